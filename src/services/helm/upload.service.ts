/**
 * Chart uploads (GitLab's `POST H/api/:channel/charts`, docs/design/gitlab-compatibility.md#helm-upload) and provenance uploads (ChartMuseum's
 * `POST /api/prov`, docs/design/client-protocols.md#chartmuseum-api, #provenance-files).
 *
 * Unlike GitLab, which answers 201 and extracts `Chart.yaml` in a background job, everything is checked while the
 * request is open: the archive streams into the blob store and, through a tee, into the archive reader at the same
 * time, so a chart is hashed, stored, read and validated in one pass. Only then are the rows written, in one
 * transaction, and the chart is in `index.yaml` the moment the 201 goes out.
 */
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { chartArchiveReader, DEFAULT_CHART_LIMITS } from '../../archive/helm-chart.js';
import type { Identity } from '../../domain/access/identity.js';
import type { PackageWrite } from '../protection.service.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { parseChartYaml, type ChartMetadata } from '../../domain/helm/chart-yaml.js';
import { MAX_PROVENANCE_BYTES, parseProvenance, signedSha256, type Provenance } from '../../domain/helm/provenance.js';
import {
  chartFileName,
  isValidChartName,
  isValidChartVersion,
  overwriteDecision,
  provenanceFileName,
  type OverwritePolicy,
} from '../../domain/helm/rules.js';
import { INSTALLABLE_STATUSES, type HelmFileKind, type LiveHelmFile, type PackageFileRow, type PackageRow } from '../../domain/records.js';
import { BlobTooLargeError, type BlobStore, type PutResult } from '../blob-store.js';
import type { Connection, Executor, UniqueViolations } from '../ports.js';
import type { ProjectAccess } from '../access.service.js';
import type { SettingsService } from '../settings.service.js';
import type { ChannelChange, HelmIndexService } from './index.service.js';
import { helmIndexKey } from '../documents/revisions.js';
import type { HelmProtectionPort, HelmRevisionsPort } from './ports.js';
import { withRetry } from './retry.js';

/** One part of an upload body: a multipart file part, or the whole body of a raw upload. */
export interface UploadPart {
  field: string;
  stream: Readable;
}

export interface UploadLimits {
  /** The `helm_max_file_size` setting: the transport may refuse anything larger before it reaches the service. */
  maxFileBytes: number;
}

/**
 * Opens the request body once the caller is known to be allowed to upload, so refused callers are answered before
 * a byte of their body is read.
 */
export type OpenParts = (limits: UploadLimits) => AsyncIterable<UploadPart>;

/** The rows a chart upload wrote: what a caller's in-transaction hook (`UploadChartOptions.written`) is told. */
export interface ChartWritten {
  packageId: number;
  chartFileId: number;
  /** The provenance file uploaded with the chart, if any. */
  provenanceFileId: number | undefined;
  chart: ChartMetadata;
}

export interface UploadChartOptions {
  /** ChartMuseum's `?force`: matters under the `require_force` overwrite policy. */
  force: boolean;
  /** A caller's own rule on the validated chart (an OCI push: its name and version), before anything is written. */
  check?: (chart: ChartMetadata) => void;
  /**
   * Runs inside the upload's transaction once the chart's rows are written (an OCI push records its manifest and tag
   * there), so the rows it writes commit with the chart or not at all. It may run more than once when the
   * transaction is retried; each run sees only its own attempt's rows.
   */
  written?: (trx: Executor, rows: ChartWritten) => Promise<void>;
}

/** What uploads need of the Helm store (`HelmRepository`). */
export interface HelmUploadStore extends UniqueViolations {
  /** The live package with this name and version, created when there is none. */
  ensurePackage(db: Executor, projectId: number, name: string, version: string, creatorId: number | null, now: string): Promise<PackageRow>;
  findActivePackage(db: Executor, projectId: number, name: string, version: string): Promise<PackageRow | undefined>;
  /** Marks the package as changed and locks its row until commit; false when it is being destroyed. */
  touchPackage(db: Executor, packageId: number, now: string): Promise<boolean>;
  liveFiles(db: Executor, packageId: number, channel: string): Promise<LiveHelmFile[]>;
  retireFiles(db: Executor, fileIds: readonly number[]): Promise<void>;
  insertFile(
    db: Executor,
    file: Omit<PackageFileRow, 'id'> & { channel: string },
    helm: { projectId: number; kind: HelmFileKind; metadata: string },
  ): Promise<PackageFileRow>;
  /** The channel's revision now (inside a transaction: including the bumps its own triggers made). */
  channelRevision(db: Executor, projectId: number, channel: string): Promise<number | undefined>;
  /** Does any package file still reference this blob? */
  blobReferenced(db: Executor, blobKey: string): Promise<boolean>;
}

export interface HelmUploadDeps {
  db: Connection & Executor;
  helm: HelmUploadStore;
  /** Every upload changes its channel's index. */
  revisions: HelmRevisionsPort;
  settings: SettingsService;
  blobs: BlobStore;
  clock: Clock;
  /** Told what each committed upload changed, so the next index read need not rebuild the channel. */
  index: HelmIndexService;
  /** Package protection rules: checked once the chart's name is known, inside the write's transaction. */
  protection: HelmProtectionPort;
}

interface ReceivedChart {
  blob: PutResult;
  metadata: ChartMetadata;
}

interface ReceivedProvenance {
  blob: PutResult;
  provenance: Provenance;
}

/** What a provenance row remembers: which chart version it belongs to and which archive it signs. */
interface ProvenanceRecord {
  name: string;
  version: string;
  sha256: string | null;
}

/** Reads a small part completely, refusing it past `max` bytes. */
async function readLimited(stream: Readable, max: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Consumes a part nobody asked for, so the multipart parser can move on to the next one. */
async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}

export class HelmUploadService {
  readonly #d: HelmUploadDeps;

  constructor(deps: HelmUploadDeps) {
    this.#d = deps;
  }

  /**
   * A chart upload: multipart field `chart` (required), optionally `prov` next to it. `force` is ChartMuseum's
   * `?force` (sent by `helm cm-push --force`), which matters under the `require_force` overwrite policy. The route
   * decided `create_package` before the body was opened.
   */
  async uploadChart(
    target: ProjectAccess,
    channel: string,
    openParts: OpenParts,
    options: UploadChartOptions,
  ): Promise<ChartMetadata> {
    const settings = await this.#d.settings.get();
    const received: PutResult[] = [];
    try {
      let chart: ReceivedChart | undefined;
      let prov: ReceivedProvenance | undefined;
      for await (const part of openParts({ maxFileBytes: settings.helm_max_file_size })) {
        if (part.field === 'chart' && !chart) {
          chart = await this.#receiveChart(part.stream, settings.helm_max_file_size, received);
        } else if (part.field === 'prov' && !prov) {
          prov = await this.#receiveProvenance(part.stream, received);
        } else {
          await drain(part.stream);
        }
      }
      // Grape's wording for a missing required parameter.
      if (!chart) throw errors.params(['chart is missing']);
      if (prov) this.#checkSignsChart(prov.provenance, chart);
      options.check?.(chart.metadata);
      const write = { action: 'push', ...target, type: 'helm', name: chart.metadata.name, surface: 'helm' } as const;
      await this.#commitChart(write, channel, creatorOf(target.identity), chart, prov, settings.helm_chart_overwrite_policy, options);
      return chart.metadata;
    } catch (err) {
      await this.#discard(received);
      throw err;
    }
  }

  /**
   * ChartMuseum's `POST /api/prov`: a provenance file on its own, for a chart version the channel already holds
   * (404 otherwise: a signature of nothing would create a package row no chart backs). It replaces what users verify
   * installs against, so protection rules count it as a push of the chart's name.
   */
  async uploadProvenance(target: ProjectAccess, channel: string, openParts: OpenParts, options: { force: boolean }): Promise<void> {
    const settings = await this.#d.settings.get();
    const received: PutResult[] = [];
    try {
      let prov: ReceivedProvenance | undefined;
      for await (const part of openParts({ maxFileBytes: MAX_PROVENANCE_BYTES })) {
        if (part.field === 'prov' && !prov) prov = await this.#receiveProvenance(part.stream, received);
        else await drain(part.stream);
      }
      if (!prov) throw errors.params(['prov is missing']);
      const { name, version } = prov.provenance;
      if (!isValidChartName(name)) throw errors.helmProvenanceInvalid('Validation failed: Name is invalid');
      if (!isValidChartVersion(version)) throw errors.helmProvenanceInvalid('Validation failed: Version is invalid');
      const write = { action: 'push', ...target, type: 'helm', name, surface: 'helm' } as const;
      await this.#commitProvenance(write, channel, prov, settings.helm_chart_overwrite_policy, options.force);
    } catch (err) {
      await this.#discard(received);
      throw err;
    }
  }

  /**
   * Streams the archive into the blob store and the archive reader together. Whichever refuses first decides the
   * answer: the size limit ("File is too large", GitLab's words) or the reader's reason.
   */
  async #receiveChart(stream: Readable, maxBytes: number, received: PutResult[]): Promise<ReceivedChart> {
    const reader = chartArchiveReader({ ...DEFAULT_CHART_LIMITS, maxArchiveBytes: maxBytes });
    let refusal: unknown;
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        // The reader's callback fires once it has taken the chunk: its pace is the upload's pace.
        reader.writable.write(chunk, () => callback(null, chunk));
      },
      flush(callback) {
        reader.writable.end(() => callback());
      },
    });
    reader.result.catch((err: unknown) => {
      refusal = err;
      // No point storing the rest of an archive that is already refused.
      tee.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    // The blob store attaches its listeners only after an await; until then a failure must not go unheard. It
    // surfaces anyway: `pipeline` carries a failed part into the tee, and `put` rejects on a failed tee.
    tee.on('error', () => undefined);
    pipeline(stream, tee).catch(() => undefined);
    let blob: PutResult;
    try {
      blob = await this.#d.blobs.put(tee, { maxBytes });
    } catch (err) {
      if (err instanceof BlobTooLargeError) throw errors.helmFileTooLarge();
      throw refusal ?? err;
    }
    received.push(blob);
    const archive = await reader.result;
    return { blob, metadata: parseChartYaml(archive.chartYaml) };
  }

  async #receiveProvenance(stream: Readable, received: PutResult[]): Promise<ReceivedProvenance> {
    const bytes = await readLimited(stream, MAX_PROVENANCE_BYTES, () => errors.helmProvenanceInvalid('Provenance file is too large'));
    const provenance = parseProvenance(bytes);
    const blob = await this.#d.blobs.put(bytes);
    received.push(blob);
    return { blob, provenance };
  }

  /** A provenance file sent with its chart must be for that chart and sign exactly these bytes. */
  #checkSignsChart(prov: Provenance, chart: ReceivedChart): void {
    const { name, version } = chart.metadata;
    if (prov.name !== name || prov.version !== version) {
      throw errors.helmProvenanceMismatch(`The provenance file is for ${prov.name} ${prov.version}, not for ${name} ${version}`);
    }
    if (signedSha256(prov) !== chart.blob.sha256) {
      throw errors.helmProvenanceMismatch(`The provenance file does not sign this chart: its digest for ${chartFileName(name, version)} differs`);
    }
  }

  async #commitChart(
    write: PackageWrite,
    channel: string,
    creatorId: number | null,
    chart: ReceivedChart,
    prov: ReceivedProvenance | undefined,
    policy: OverwritePolicy,
    options: UploadChartOptions,
  ): Promise<void> {
    const { helm } = this.#d;
    const projectId = write.project.id;
    const { name, version } = chart.metadata;
    const fileName = chartFileName(name, version);
    const metadata = JSON.stringify(chart.metadata);
    const change = await withRetry(helm, () =>
      this.#d.db.transaction().execute(async (trx): Promise<ChannelChange | undefined> => {
        const now = iso(this.#d.clock.now());
        await this.#d.protection.require(write, trx);
        const pkg = await this.#lockPackage(trx, projectId, name, version, creatorId, now);
        const from = (await this.#d.revisions.changed(trx, helmIndexKey(projectId, channel), now)) - 1;
        const live = await helm.liveFiles(trx, pkg.id, channel);
        if (live.some((f) => f.kind === 'chart')) {
          const decision = overwriteDecision(policy, options.force);
          if (!decision.allowed) throw errors.helmChartExists(fileName, channel, decision.hint);
        }
        // Newest wins: the old chart goes, and so does a provenance file that does not sign the new bytes.
        const retired = live.filter((f) => f.kind === 'chart' || prov !== undefined || provenanceOf(f).sha256 !== chart.blob.sha256);
        await helm.retireFiles(trx, retired.map((f) => f.id));
        const file = await helm.insertFile(trx, fileRow(pkg.id, fileName, channel, chart.blob, now), { projectId, kind: 'chart', metadata });
        const provFile = prov ? await this.#insertProvenance(trx, projectId, pkg.id, channel, prov, now) : undefined;
        await options.written?.(trx, { packageId: pkg.id, chartFileId: file.id, provenanceFileId: provFile?.id, chart: chart.metadata });
        // Status triggers may have moved the revision on again: the change spans every revision this transaction made.
        const to = await helm.channelRevision(trx, projectId, channel);
        if (to === undefined) return undefined;
        const listed = INSTALLABLE_STATUSES.includes(pkg.status);
        return {
          from,
          to,
          chart: name,
          ...(listed ? { added: { metadata: JSON.parse(metadata) as ChartMetadata, created: file.created_at, sha256: file.sha256, fileId: file.id } } : {}),
          removed: retired.filter((f) => f.kind === 'chart').map((f) => f.id),
        };
      }),
    );
    if (change) this.#d.index.noteChange(projectId, channel, change);
  }

  async #commitProvenance(write: PackageWrite, channel: string, prov: ReceivedProvenance, policy: OverwritePolicy, force: boolean): Promise<void> {
    const { helm } = this.#d;
    const projectId = write.project.id;
    const { name, version } = prov.provenance;
    const missing = () => errors.helmProvenanceWithoutChart(chartFileName(name, version), channel);
    const change = await withRetry(helm, () =>
      this.#d.db.transaction().execute(async (trx): Promise<ChannelChange | undefined> => {
        const now = iso(this.#d.clock.now());
        const pkg = await helm.findActivePackage(trx, projectId, name, version);
        if (!pkg || !(await helm.touchPackage(trx, pkg.id, now))) throw missing();
        const live = await helm.liveFiles(trx, pkg.id, channel);
        const chart = live.find((f) => f.kind === 'chart');
        if (!chart) throw missing();
        await this.#d.protection.require(write, trx);
        const from = (await this.#d.revisions.changed(trx, helmIndexKey(projectId, channel), now)) - 1;
        // Served next to a chart it does not sign, it would make `helm install --verify` fail for everyone.
        if (signedSha256(prov.provenance) !== chart.sha256) {
          throw errors.helmProvenanceMismatch(`The provenance file does not sign the chart ${chart.file_name} stored in channel ${channel}`);
        }
        const old = live.filter((f) => f.kind === 'provenance');
        if (old.length > 0) {
          const decision = overwriteDecision(policy, force);
          if (!decision.allowed) throw errors.helmChartExists(provenanceFileName(name, version), channel, decision.hint);
        }
        await helm.retireFiles(trx, old.map((f) => f.id));
        await this.#insertProvenance(trx, projectId, pkg.id, channel, prov, now);
        // Provenance files are not listed: the index changes only in its `generated` time.
        const to = await helm.channelRevision(trx, projectId, channel);
        return to === undefined ? undefined : { from, to, chart: name, removed: [] };
      }),
    );
    if (change) this.#d.index.noteChange(projectId, channel, change);
  }

  async #insertProvenance(trx: Executor, projectId: number, packageId: number, channel: string, prov: ReceivedProvenance, now: string): Promise<PackageFileRow> {
    const { name, version } = prov.provenance;
    const record: ProvenanceRecord = { name, version, sha256: signedSha256(prov.provenance) ?? null };
    return this.#d.helm.insertFile(trx, fileRow(packageId, provenanceFileName(name, version), channel, prov.blob, now), {
      projectId,
      kind: 'provenance',
      metadata: JSON.stringify(record),
    });
  }

  /**
   * The package row for this version, locked for the rest of the transaction. A package being destroyed by a
   * concurrent delete cannot take new files; then a new package row is made.
   */
  async #lockPackage(trx: Executor, projectId: number, name: string, version: string, creatorId: number | null, now: string): Promise<PackageRow> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const pkg = await this.#d.helm.ensurePackage(trx, projectId, name, version, creatorId, now);
      if (await this.#d.helm.touchPackage(trx, pkg.id, now)) return pkg;
    }
    throw new Error(`helm package ${name} ${version} was destroyed three times while a file was being added`);
  }

  /** Blobs this refused upload created and no row references: removed now rather than left for `gc`. */
  async #discard(received: PutResult[]): Promise<void> {
    for (const blob of received) {
      if (!blob.created) continue;
      try {
        if (!(await this.#d.helm.blobReferenced(this.#d.db, blob.sha256))) await this.#d.blobs.delete(blob.sha256);
      } catch {
        // Best effort: an orphaned blob is harmless and `gc` removes it.
      }
    }
  }
}

const creatorOf = (identity: Identity): number | null => (identity.kind === 'user' ? identity.userId : null);

function provenanceOf(file: LiveHelmFile): ProvenanceRecord {
  try {
    return JSON.parse(file.metadata) as ProvenanceRecord;
  } catch {
    return { name: '', version: '', sha256: null };
  }
}

function fileRow(packageId: number, fileName: string, channel: string, blob: PutResult, now: string) {
  return {
    package_id: packageId,
    file_name: fileName,
    size: blob.size,
    sha1: blob.sha1,
    sha256: blob.sha256,
    sha512: blob.sha512,
    blob_key: blob.sha256,
    channel,
    status: 'default' as const,
    created_at: now,
  };
}
