/**
 * OCI manifests and tags of Helm charts (docs/design/helm-oci.md#one-store).
 *
 * A manifest PUT is a chart push: the chart layer (and the provenance layer, when there is one) are handed, from
 * the blob store, to the Helm upload service, which validates them exactly as a classic upload (archive rules,
 * limits, Chart.yaml, provenance signature), applies the protection rules and the overwrite policy, creates the Helm
 * package and lists it in the channel's index. The manifest and its tag are recorded in the same transaction as
 * the chart's rows, so neither view exists without the other.
 *
 * A chart uploaded the classic way has a manifest too, computed from the store (`domain/oci/classic-manifest.ts`)
 * and recorded on its first read by tag. Deleting a chart's manifest deletes the Helm package version, as the
 * packages API does; retiring a package or file deletes its manifests in the retiring transaction
 * (docs/design/helm-oci.md#deletion), so reads need no liveness check.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ChartMetadata } from '../../domain/helm/chart-yaml.js';
import type { AuditContext } from '../../domain/audit.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { AppError, errors } from '../../domain/errors.js';
import { classicManifest, helmConfig, type BlobRef } from '../../domain/oci/classic-manifest.js';
import { checkHelmManifest, MAX_MANIFEST_BYTES, OCI_MANIFEST, type Descriptor } from '../../domain/oci/manifest.js';
import { checkDigest, isTag, ociDigest, tagToVersion } from '../../domain/oci/names.js';
import { checkReferrer, type ReferrerManifest } from '../../domain/oci/referrer.js';
import type { OciBlobRow, OciManifestRow, OciTagRow } from '../../domain/records.js';
import type { ProjectAccess } from '../access.service.js';
import type { BlobStore } from '../blob-store.js';
import { FreshMemo } from '../fresh-memo.js';
import type { OpenParts, UploadChartOptions } from '../helm/upload.service.js';
import type { ChangeSignal, Connection, Executor } from '../ports.js';
import type { OciProtectionPort } from './referrers.service.js';
import { requireLinkedBlob, type OciRepositoryRef } from './blobs.service.js';

/** What manifests need of the database (`OciRepository`). */
export interface OciManifestsStore {
  blob(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined>;
  manifest(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciManifestRow | undefined>;
  tag(db: Executor, projectId: number, repository: string, tag: string): Promise<OciTagRow | undefined>;
  insertManifest(db: Executor, row: OciManifestRow): Promise<void>;
  /** Records the blobs (config, layers) the manifest references. */
  linkManifestBlobs(db: Executor, projectId: number, repository: string, manifestSha256: string, sha256s: readonly string[]): Promise<void>;
  /** Records (or refreshes) that the repository may read the blob. */
  linkBlob(db: Executor, row: OciBlobRow): Promise<void>;
  deleteManifest(db: Executor, projectId: number, repository: string, sha256: string): Promise<boolean>;
  setTag(db: Executor, row: OciTagRow): Promise<void>;
  /** Adds the tag unless it exists (it then keeps its manifest). */
  addTag(db: Executor, row: OciTagRow): Promise<void>;
  tags(
    db: Executor,
    projectId: number,
    repository: string,
    last: string | undefined,
    limit: number,
    classic?: { chart: string; channel: string },
  ): Promise<string[]>;
  classicChart(db: Executor, projectId: number, name: string, version: string, channel: string): Promise<ClassicChart | undefined>;
  /** Locks the package row until commit; false when it is being destroyed. */
  holdPackage(db: Executor, packageId: number): Promise<boolean>;
  /** Locks the file rows until commit; false unless every one is live. */
  holdLiveFiles(db: Executor, fileIds: readonly number[]): Promise<boolean>;
}

/** A live chart of a channel, with what its manifest is computed from. */
export interface ClassicChart {
  packageId: number;
  chart: { id: number; sha256: string; size: number; metadata: string };
  provenance: { id: number; sha256: string; size: number } | undefined;
}

/** The classic upload path (`HelmUploadService.uploadChart`), which an OCI push goes through. */
export interface ChartUploadPort {
  uploadChart(target: ProjectAccess, channel: string, openParts: OpenParts, options: UploadChartOptions): Promise<ChartMetadata>;
}

/** The packages API's delete (`PackagesService.delete`): Maintainer, deletion protection, audit event. */
export interface PackageDeletePort {
  delete(target: ProjectAccess, packageId: number, audit?: AuditContext): Promise<void>;
}

/** Artifacts attached to a chart (`OciReferrersService`): a manifest with a subject is pushed there. */
export interface ReferrerPushPort {
  push(target: OciPushTarget, reference: string, manifest: ReferrerManifest, bytes: Buffer, sha256: string): Promise<PushResult>;
}

export interface OciManifestsDeps {
  db: Connection & Executor;
  oci: OciManifestsStore;
  blobs: BlobStore;
  charts: ChartUploadPort;
  referrers: ReferrerPushPort;
  packages: PackageDeletePort;
  /** Deletion protection of a referrer's chart (`ProtectionService`), checked in the delete's transaction. */
  protection: OciProtectionPort;
  /** `helm_oci_channel`: the classic channel the OCI view maps to. */
  settings: { get(): Promise<{ readonly helm_oci_channel: string }> };
  clock: Clock;
  /** Lets manifest lookups skip the database while nothing was written (SQLite); see docs/performance.md. */
  changes: ChangeSignal;
}

export interface ManifestRead {
  sha256: string;
  mediaType: string;
  size: number;
  /** Manifests are small: usually one buffer from the blob store's memory; undefined for HEAD. */
  body: Readable | Buffer | undefined;
}

/** A pushed manifest's digest (hex), and its subject's digest when it is attached to a chart (`OCI-Subject`). */
export interface PushResult {
  sha256: string;
  subject?: string;
}

/** A repository the caller pushes to, with the chart its name ends in. */
export interface OciPushTarget extends OciRepositoryRef {
  access: ProjectAccess;
  chart: string;
}

export class OciManifestsService {
  readonly #d: OciManifestsDeps;
  // Every pull starts with a manifest by tag: the answer (tag → manifest row, or none) is remembered until the
  // next write (SQLite only; on PostgreSQL every pull reads, so other instances' pushes and deletes show at once).
  readonly #rows: FreshMemo<OciManifestRow | undefined>;

  constructor(deps: OciManifestsDeps) {
    this.#d = deps;
    this.#rows = new FreshMemo(deps.changes);
  }

  /**
   * `GET`/`HEAD …/manifests/<tag or digest>`; `withBody: false` for HEAD. A tag no manifest has yet, naming a version
   * the OCI channel holds, gets the classic upload's manifest, recorded now.
   */
  async read(ref: OciRepositoryRef, reference: string, withBody: boolean): Promise<ManifestRead> {
    const row = await this.#rows.get(`${ref.projectId}\0${ref.repository}\0${reference}`, async () => {
      const found = await this.#find(ref, reference);
      return found && Object.freeze(found);
    });
    if (!row) throw manifestUnknown(reference);
    const body = withBody ? (this.#d.blobs.cached?.(row.sha256) ?? (await this.#d.blobs.get(row.sha256))) : undefined;
    if (withBody && !body) throw errors.blobMissing(ociDigest(row.sha256));
    return { sha256: row.sha256, mediaType: row.media_type, size: Number(row.size), body };
  }

  /** `PUT …/manifests/<tag or digest>`: the chart push, or an artifact attached to a chart. */
  async push(target: OciPushTarget, reference: string, contentType: string | undefined, body: Readable): Promise<PushResult> {
    const byDigest = reference.includes(':');
    if (!byDigest && !isTag(reference)) throw errors.oci('MANIFEST_INVALID', `${reference} is neither a tag nor a digest`);
    const bytes = await readManifest(body);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (byDigest) {
      const check = checkDigest(reference);
      if (!check.ok || check.sha256 !== sha256) throw errors.oci('DIGEST_INVALID', 'the manifest does not match the digest it was pushed under');
    }
    const referrer = checkReferrer(bytes, contentType);
    if (referrer && !referrer.ok) throw errors.oci('MANIFEST_INVALID', referrer.reason);
    if (referrer) return this.#d.referrers.push(target, reference, referrer.manifest, bytes, sha256);
    const checked = checkHelmManifest(bytes, contentType);
    if (!checked.ok) throw errors.oci('MANIFEST_INVALID', checked.reason);
    const { chart, provenance, config } = checked.manifest;
    const referenced = [config, chart, ...(provenance ? [provenance] : [])];
    for (const d of referenced) await requireLinkedBlob(this.#d.oci, this.#d.db, target, d);

    const parts: OpenParts = () =>
      (async function* (this: OciManifestsService) {
        yield { field: 'chart', stream: await this.#open(chart) };
        if (provenance) yield { field: 'prov', stream: await this.#open(provenance) };
      }).call(this);
    // The manifest's bytes go first, so its row never names a missing blob; a refused push leaves them to `gc`.
    const blob = await this.#d.blobs.put(bytes, { expectedSha256: sha256 });
    const channel = (await this.#d.settings.get()).helm_oci_channel;
    await this.#d.charts.uploadChart(target.access, channel, parts, {
      // Replacing a version's chart is the overwrite policy's decision, as for `helm cm-push --force`.
      force: false,
      check: (meta) => {
        if (meta.name !== target.chart) {
          throw errors.oci('MANIFEST_INVALID', `the chart is named ${meta.name} in Chart.yaml, not ${target.chart} as the repository name says`);
        }
        if (!byDigest && tagToVersion(reference) !== meta.version) {
          throw errors.oci('MANIFEST_INVALID', `the tag ${reference} is not the chart's version ${meta.version} (a + in a version is _ in its tag)`);
        }
      },
      // In the chart's transaction: the OCI rows commit with the Helm package or not at all.
      written: async (trx, rows) => {
        const now = iso(this.#d.clock.now());
        await this.#record(trx, target, { sha256: blob.sha256, size: bytes.length }, referenced.map(refOf), rows, now);
        if (!byDigest) {
          await this.#d.oci.setTag(trx, { project_id: target.projectId, repository: target.repository, tag: reference, manifest_sha256: blob.sha256, updated_at: now });
        }
      },
    });
    return { sha256: blob.sha256 };
  }

  /**
   * `DELETE …/manifests/<tag or digest>`. A chart's manifest stands for its Helm package version: deleting it
   * deletes the version through the packages API's path (Maintainer, deletion protection, audit event), which takes
   * every manifest and tag of the version with it. A referrer (no chart version of its own) is deleted alone.
   */
  async delete(target: OciPushTarget, reference: string, audit?: AuditContext): Promise<void> {
    const found = await this.#findForDelete(target, reference);
    if (!found) throw manifestUnknown(reference);
    if (found.packageId !== null && found.chartVersion !== null) {
      try {
        await this.#d.packages.delete(target.access, found.packageId, audit);
      } catch (err) {
        // Deleted by someone else in the meantime.
        if (err instanceof AppError && err.status === 404) throw manifestUnknown(reference);
        throw err;
      }
      return;
    }
    await this.#d.db.transaction().execute(async (trx) => {
      const write = { action: 'delete', ...target.access, type: 'helm', name: target.chart, surface: 'api' } as const;
      await this.#d.protection.require(write, trx);
      if (!(await this.#d.oci.deleteManifest(trx, target.projectId, target.repository, found.sha256!))) throw manifestUnknown(reference);
    });
  }

  /**
   * `GET …/tags/list`: the repository's tags and the versions of its chart the OCI channel holds (their manifests
   * are computed on first read); lexical order, `n` at a time after `last`; `more` when a next page may exist.
   */
  async tags(ref: OciRepositoryRef, n: number | undefined, last: string | undefined): Promise<{ tags: string[]; more: boolean }> {
    const limit = Math.min(n ?? 1000, 1000);
    if (limit === 0) return { tags: [], more: false };
    const classic = { chart: chartOf(ref), channel: (await this.#d.settings.get()).helm_oci_channel };
    const tags = await this.#d.oci.tags(this.#d.db, ref.projectId, ref.repository, last, limit + 1, classic);
    return { tags: tags.slice(0, limit), more: tags.length > limit };
  }

  async #find(ref: OciRepositoryRef, reference: string): Promise<OciManifestRow | undefined> {
    if (reference.includes(':')) {
      const check = checkDigest(reference);
      if (!check.ok) throw errors.oci('DIGEST_INVALID', `${reference} is not a supported digest`);
      return this.#d.oci.manifest(this.#d.db, ref.projectId, ref.repository, check.sha256);
    }
    if (!isTag(reference)) throw manifestUnknown(reference);
    // A race with a write of the same version makes the computed manifest stale before it is recorded: look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const tag = await this.#d.oci.tag(this.#d.db, ref.projectId, ref.repository, reference);
      if (tag) return this.#d.oci.manifest(this.#d.db, ref.projectId, ref.repository, tag.manifest_sha256);
      const classic = await this.#materialise(ref, reference);
      if (classic !== 'stale') return classic;
    }
    return undefined;
  }

  /**
   * Records the manifest of the classic upload the tag names, in the OCI channel: content-addressed blobs and
   * insert-or-ignore rows, so instances racing on the first read record the same thing once. Rows are written
   * under locks of the package and its files, after checking they are still what the manifest was computed from:
   * a retirement committing meanwhile would otherwise miss them (docs/design/helm-oci.md#deletion).
   */
  async #materialise(ref: OciRepositoryRef, tag: string): Promise<OciManifestRow | undefined | 'stale'> {
    const version = tagToVersion(tag);
    const name = chartOf(ref);
    const channel = (await this.#d.settings.get()).helm_oci_channel;
    const { oci, db } = this.#d;
    const found = await oci.classicChart(db, ref.projectId, name, version, channel);
    if (!found) return undefined;
    const meta = JSON.parse(found.chart.metadata) as ChartMetadata;
    const configBytes = helmConfig(meta);
    const config = await this.#d.blobs.put(configBytes);
    const bytes = classicManifest(meta, config, found.chart, found.provenance);
    const manifest = await this.#d.blobs.put(bytes);
    const files = [found.chart.id, ...(found.provenance ? [found.provenance.id] : [])];
    return db.transaction().execute(async (trx) => {
      if (!(await oci.holdPackage(trx, found.packageId)) || !(await oci.holdLiveFiles(trx, files))) return 'stale';
      const now = await oci.classicChart(trx, ref.projectId, name, version, channel);
      if (now?.chart.id !== found.chart.id || now.provenance?.id !== found.provenance?.id) return 'stale';
      const at = iso(this.#d.clock.now());
      const blobs = [{ sha256: config.sha256, size: config.size }, found.chart, ...(found.provenance ? [found.provenance] : [])];
      await this.#record(trx, ref, { sha256: manifest.sha256, size: bytes.length }, blobs, { packageId: found.packageId, chartFileId: found.chart.id, chart: meta }, at);
      await oci.addTag(trx, { project_id: ref.projectId, repository: ref.repository, tag, manifest_sha256: manifest.sha256, updated_at: at });
      return (await oci.manifest(trx, ref.projectId, ref.repository, manifest.sha256)) ?? 'stale';
    });
  }

  /** A chart manifest's rows: the manifest, the blobs it references, and the repository's links to them. */
  async #record(
    trx: Executor,
    ref: OciRepositoryRef,
    manifest: BlobRef,
    blobs: readonly BlobRef[],
    chart: { packageId: number; chartFileId: number; chart: ChartMetadata },
    now: string,
  ): Promise<void> {
    const { oci } = this.#d;
    await oci.insertManifest(trx, {
      project_id: ref.projectId,
      repository: ref.repository,
      sha256: manifest.sha256,
      media_type: OCI_MANIFEST,
      size: manifest.size,
      package_id: chart.packageId,
      package_file_id: chart.chartFileId,
      chart_version: chart.chart.version,
      subject_sha256: null,
      artifact_type: null,
      created_at: now,
    });
    await oci.linkManifestBlobs(trx, ref.projectId, ref.repository, manifest.sha256, blobs.map((b) => b.sha256));
    // Relinked even when linked: a blob DELETE racing with this push cannot leave the manifest naming an unlinked blob.
    for (const b of blobs) await oci.linkBlob(trx, { project_id: ref.projectId, repository: ref.repository, sha256: b.sha256, size: b.size, created_at: now });
  }

  /** What a DELETE names: a recorded manifest, or a classic version the OCI channel holds (no manifest recorded yet). */
  async #findForDelete(
    ref: OciRepositoryRef,
    reference: string,
  ): Promise<{ sha256: string | null; packageId: number | null; chartVersion: string | null } | undefined> {
    const toFound = (row: OciManifestRow | undefined) => row && { sha256: row.sha256, packageId: row.package_id, chartVersion: row.chart_version };
    if (reference.includes(':')) return toFound(await this.#find(ref, reference));
    if (!isTag(reference)) return undefined;
    const tag = await this.#d.oci.tag(this.#d.db, ref.projectId, ref.repository, reference);
    if (tag) return toFound(await this.#d.oci.manifest(this.#d.db, ref.projectId, ref.repository, tag.manifest_sha256));
    const channel = (await this.#d.settings.get()).helm_oci_channel;
    const classic = await this.#d.oci.classicChart(this.#d.db, ref.projectId, chartOf(ref), tagToVersion(reference), channel);
    return classic && { sha256: null, packageId: classic.packageId, chartVersion: tagToVersion(reference) };
  }


  async #open(d: Descriptor): Promise<Readable> {
    const check = checkDigest(d.digest);
    const stream = check.ok ? await this.#d.blobs.get(check.sha256) : undefined;
    if (!stream) throw errors.blobMissing(d.digest);
    return stream;
  }
}

/** The chart a repository holds: the last component of its name (docs/design/helm-oci.md#names). */
const chartOf = (ref: OciRepositoryRef): string => ref.repository.slice(ref.repository.lastIndexOf('/') + 1);

const refOf = (d: Descriptor): BlobRef => ({ sha256: d.digest.slice(d.digest.indexOf(':') + 1), size: d.size });

const manifestUnknown = (reference: string) => errors.oci('MANIFEST_UNKNOWN', 'manifest unknown to registry', { reference });

async function readManifest(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_MANIFEST_BYTES) {
      body.destroy();
      throw errors.oci('SIZE_INVALID', `a manifest is at most ${MAX_MANIFEST_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
