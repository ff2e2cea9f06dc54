/**
 * OCI manifests and tags of Helm charts (docs/design/helm-oci.md#one-store).
 *
 * A manifest PUT is a chart push: the chart layer (and the provenance layer, when there is one) are handed, from
 * the blob store, to the Helm upload service, which validates them exactly as a classic upload (archive rules,
 * limits, Chart.yaml, provenance signature), applies the protection rules and the overwrite policy, creates the Helm
 * package and lists it in the channel's index. Only then is the manifest recorded and the tag moved.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ChartMetadata } from '../../domain/helm/chart-yaml.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { checkHelmManifest, MAX_MANIFEST_BYTES, OCI_MANIFEST, type Descriptor } from '../../domain/oci/manifest.js';
import { checkDigest, isTag, ociDigest, tagToVersion } from '../../domain/oci/names.js';
import { checkReferrer, type ReferrerManifest } from '../../domain/oci/referrer.js';
import type { OciBlobRow, OciManifestRow, OciTagRow } from '../../domain/records.js';
import type { ProjectAccess } from '../access.service.js';
import type { BlobStore } from '../blob-store.js';
import { FreshMemo } from '../fresh-memo.js';
import type { OpenParts } from '../helm/upload.service.js';
import type { ChangeSignal, Connection, Executor } from '../ports.js';
import type { OciRepositoryRef } from './blobs.service.js';

/** What manifests need of the database (`OciRepository`). */
export interface OciManifestsStore {
  blob(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined>;
  manifest(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciManifestRow | undefined>;
  tag(db: Executor, projectId: number, repository: string, tag: string): Promise<OciTagRow | undefined>;
  insertManifest(db: Executor, row: OciManifestRow): Promise<void>;
  setTag(db: Executor, row: OciTagRow): Promise<void>;
  tags(db: Executor, projectId: number, repository: string, last: string | undefined, limit: number): Promise<string[]>;
}

/** The classic upload path (`HelmUploadService.uploadChart`), which an OCI push goes through. */
export interface ChartUploadPort {
  uploadChart(
    target: ProjectAccess,
    channel: string,
    openParts: OpenParts,
    options: { force: boolean; check?: (chart: ChartMetadata) => void },
  ): Promise<ChartMetadata>;
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
  clock: Clock;
  /** The classic channel an OCI push is listed in. */
  channel: string;
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

  /** `GET`/`HEAD …/manifests/<tag or digest>`; `withBody: false` for HEAD. */
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
    for (const d of [config, chart, ...(provenance ? [provenance] : [])]) await this.#requireBlob(target, d);

    const parts: OpenParts = () =>
      (async function* (this: OciManifestsService) {
        yield { field: 'chart', stream: await this.#open(chart) };
        if (provenance) yield { field: 'prov', stream: await this.#open(provenance) };
      }).call(this);
    const metadata = await this.#d.charts.uploadChart(target.access, this.#d.channel, parts, {
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
    });

    // Stored once the chart is: a refused manifest leaves nothing behind.
    const blob = await this.#d.blobs.put(bytes, { expectedSha256: sha256 });
    const now = iso(this.#d.clock.now());
    await this.#d.db.transaction().execute(async (trx) => {
      await this.#d.oci.insertManifest(trx, {
        project_id: target.projectId,
        repository: target.repository,
        sha256: blob.sha256,
        media_type: OCI_MANIFEST,
        size: bytes.length,
        package_id: null,
        chart_version: metadata.version,
        subject_sha256: null,
        artifact_type: null,
        created_at: now,
      });
      if (!byDigest) {
        await this.#d.oci.setTag(trx, { project_id: target.projectId, repository: target.repository, tag: reference, manifest_sha256: blob.sha256, updated_at: now });
      }
    });
    return { sha256: blob.sha256 };
  }

  /** `GET …/tags/list`: lexical order, `n` at a time after `last`; `more` when a next page may exist. */
  async tags(ref: OciRepositoryRef, n: number | undefined, last: string | undefined): Promise<{ tags: string[]; more: boolean }> {
    const limit = Math.min(n ?? 1000, 1000);
    if (limit === 0) return { tags: [], more: false };
    const tags = await this.#d.oci.tags(this.#d.db, ref.projectId, ref.repository, last, limit + 1);
    return { tags: tags.slice(0, limit), more: tags.length > limit };
  }

  async #find(ref: OciRepositoryRef, reference: string): Promise<OciManifestRow | undefined> {
    if (reference.includes(':')) {
      const check = checkDigest(reference);
      if (!check.ok) throw errors.oci('DIGEST_INVALID', `${reference} is not a supported digest`);
      return this.#d.oci.manifest(this.#d.db, ref.projectId, ref.repository, check.sha256);
    }
    if (!isTag(reference)) throw manifestUnknown(reference);
    const tag = await this.#d.oci.tag(this.#d.db, ref.projectId, ref.repository, reference);
    return tag && this.#d.oci.manifest(this.#d.db, ref.projectId, ref.repository, tag.manifest_sha256);
  }

  async #requireBlob(ref: OciRepositoryRef, d: Descriptor): Promise<void> {
    const check = checkDigest(d.digest);
    if (!check.ok) throw errors.oci('DIGEST_INVALID', `the manifest names ${d.digest}, which is not a supported digest`);
    const row = await this.#d.oci.blob(this.#d.db, ref.projectId, ref.repository, check.sha256);
    if (!row) throw errors.oci('MANIFEST_BLOB_UNKNOWN', `the manifest names ${d.digest}, which this repository does not have: push it first`, { digest: d.digest });
    if (Number(row.size) !== d.size) throw errors.oci('MANIFEST_INVALID', `the manifest gives ${d.digest} a size of ${d.size}, it has ${row.size} bytes`);
  }

  async #open(d: Descriptor): Promise<Readable> {
    const check = checkDigest(d.digest);
    const stream = check.ok ? await this.#d.blobs.get(check.sha256) : undefined;
    if (!stream) throw errors.blobMissing(d.digest);
    return stream;
  }
}

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
