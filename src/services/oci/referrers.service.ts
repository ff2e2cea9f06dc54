/**
 * Artifacts attached to charts, and the referrers API (docs/design/helm-oci.md#referrers).
 *
 * A manifest whose `subject` names a chart's manifest in the same repository (a signature, an SBOM, an
 * attestation) is stored next to the chart: its row takes the chart's package id, so it goes when the chart goes.
 * Pushing one changes what users verify, so it is a push of the chart — the same ability, and the package
 * protection rules for the chart's name. `GET …/referrers/<digest>` lists them as an image index.
 */
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { OCI_MANIFEST } from '../../domain/oci/manifest.js';
import { checkDigest, ociDigest } from '../../domain/oci/names.js';
import { annotationsOf, type ReferrerManifest } from '../../domain/oci/referrer.js';
import type { OciBlobRow, OciManifestRow } from '../../domain/records.js';
import type { BlobStore } from '../blob-store.js';
import type { Connection, Executor } from '../ports.js';
import type { PackageWrite } from '../protection.service.js';
import { requireLinkedBlob, type OciRepositoryRef } from './blobs.service.js';
import type { OciPushTarget, PushResult } from './manifests.service.js';

/** At most this many descriptors in one answer of the referrers API… */
export const REFERRERS_PAGE = 100;
/** …and at most this many bytes of referrer manifests read to build it (one referrer always fits). */
export const REFERRERS_PAGE_BYTES = 1024 * 1024;

/** What referrers need of the database (`OciRepository`). */
export interface OciReferrersStore {
  blob(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined>;
  manifest(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciManifestRow | undefined>;
  insertManifest(db: Executor, row: OciManifestRow): Promise<void>;
  /** Records the blobs a manifest references (so a blob DELETE is refused and `gc` keeps their links). */
  linkManifestBlobs(db: Executor, projectId: number, repository: string, manifestSha256: string, sha256s: readonly string[]): Promise<void>;
  /** The manifests whose subject is `subjectSha256`, by digest, after `after` (hex), at most `limit`. */
  referrers(
    db: Executor,
    projectId: number,
    repository: string,
    subjectSha256: string,
    page: { artifactType: string | undefined; after: string | undefined; limit: number },
  ): Promise<OciManifestRow[]>;
}

/** Package protection rules (`ProtectionService`). */
export interface OciProtectionPort {
  require(write: PackageWrite, trx?: Executor): Promise<void>;
}

export interface OciReferrersDeps {
  db: Connection & Executor;
  oci: OciReferrersStore;
  blobs: BlobStore;
  protection: OciProtectionPort;
  clock: Clock;
}

/** One entry of the referrers index, as the spec describes it. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType: string;
  annotations?: Record<string, string>;
}

export interface ReferrersPage {
  manifests: ReferrerDescriptor[];
  /** The digest to continue after (`?last=`) when there are more. */
  next: string | undefined;
}

export class OciReferrersService {
  readonly #d: OciReferrersDeps;

  constructor(deps: OciReferrersDeps) {
    this.#d = deps;
  }

  /**
   * `PUT …/manifests/<digest>` of an artifact attached to a chart (`checkReferrer` said it is one). Refused unless
   * its subject is a chart stored in this repository, it names only blobs this repository has, and no protection
   * rule keeps the caller from pushing the chart.
   */
  async push(target: OciPushTarget, reference: string, manifest: ReferrerManifest, bytes: Buffer, sha256: string): Promise<PushResult> {
    // A tag names a chart version; an attached artifact is found through its subject, as `oras attach` pushes it.
    if (!reference.includes(':')) throw errors.oci('MANIFEST_INVALID', `an artifact attached to a chart is pushed by digest, not under the tag ${reference}`);
    const write: PackageWrite = { action: 'push', ...target.access, type: 'helm', name: target.chart, surface: 'helm' };
    // Before anything is stored; again in the transaction below, where it counts.
    await this.#d.protection.require(write);
    await this.#subject(this.#d.db, target, manifest);
    for (const d of [manifest.config, ...manifest.layers]) await requireLinkedBlob(this.#d.oci, this.#d.db, target, d);

    const blob = await this.#d.blobs.put(bytes, { expectedSha256: sha256 });
    await this.#d.db.transaction().execute(async (trx) => {
      await this.#d.protection.require(write, trx);
      const subject = await this.#subject(trx, target, manifest);
      await this.#d.oci.insertManifest(trx, {
        project_id: target.projectId,
        repository: target.repository,
        sha256: blob.sha256,
        media_type: OCI_MANIFEST,
        size: bytes.length,
        // The chart's package and chart file: the referrer goes when either goes (a deleted or replaced chart).
        package_id: subject.package_id,
        package_file_id: subject.package_file_id,
        chart_version: null,
        subject_sha256: manifest.subjectSha256,
        artifact_type: manifest.artifactType,
        created_at: iso(this.#d.clock.now()),
      });
      const referenced = [manifest.config, ...manifest.layers].map((d) => d.digest.slice('sha256:'.length));
      await this.#d.oci.linkManifestBlobs(trx, target.projectId, target.repository, blob.sha256, referenced);
    });
    return { sha256: blob.sha256, subject: manifest.subject.digest };
  }

  /**
   * `GET …/referrers/<digest>[?artifactType=]`: the artifacts attached to the chart, by digest, a page at a time
   * after `last`. A digest no chart here has answers the empty index, as the spec says.
   */
  async list(ref: OciRepositoryRef, digest: string, artifactType: string | undefined, last: string | undefined): Promise<ReferrersPage> {
    const subject = checkDigest(digest);
    if (!subject.ok) throw errors.oci('DIGEST_INVALID', `${digest} is not a supported digest`);
    let after: string | undefined;
    if (last !== undefined) {
      const check = checkDigest(last);
      if (!check.ok) throw errors.oci('DIGEST_INVALID', `last=${last} is not a supported digest`);
      after = check.sha256;
    }
    // Only a chart that is visible here has referrers: one being deleted shows none, its referrers go with it.
    const chart = await this.#d.oci.manifest(this.#d.db, ref.projectId, ref.repository, subject.sha256);
    if (!chart || chart.chart_version === null) return { manifests: [], next: undefined };
    const rows = await this.#d.oci.referrers(this.#d.db, ref.projectId, ref.repository, subject.sha256, { artifactType, after, limit: REFERRERS_PAGE + 1 });
    const page: OciManifestRow[] = [];
    let bytes = 0;
    for (const row of rows) {
      if (page.length === REFERRERS_PAGE || (page.length > 0 && bytes + Number(row.size) > REFERRERS_PAGE_BYTES)) break;
      page.push(row);
      bytes += Number(row.size);
    }
    // At most REFERRERS_PAGE small reads (REFERRERS_PAGE_BYTES in all).
    const manifests = await Promise.all(page.map((row) => this.#descriptor(row)));
    return { manifests, next: page.length < rows.length ? ociDigest(page[page.length - 1]!.sha256) : undefined };
  }

  async #descriptor(row: OciManifestRow): Promise<ReferrerDescriptor> {
    const stream = await this.#d.blobs.get(row.sha256);
    if (!stream) throw errors.blobMissing(ociDigest(row.sha256));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const annotations = annotationsOf(Buffer.concat(chunks));
    return {
      mediaType: row.media_type,
      digest: ociDigest(row.sha256),
      size: Number(row.size),
      artifactType: row.artifact_type ?? row.media_type,
      ...(annotations ? { annotations } : {}),
    };
  }

  /** The chart the referrer is attached to: a chart's manifest in this repository, the size the subject says. */
  async #subject(db: Executor, target: OciPushTarget, manifest: ReferrerManifest): Promise<OciManifestRow> {
    const row = await this.#d.oci.manifest(db, target.projectId, target.repository, manifest.subjectSha256);
    if (!row || row.chart_version === null) {
      throw errors.oci('MANIFEST_INVALID', `the subject ${manifest.subject.digest} is no chart in this repository: push the chart first, then attach to it`, {
        subject: manifest.subject.digest,
      });
    }
    if (Number(row.size) !== manifest.subject.size) {
      throw errors.oci('MANIFEST_INVALID', `the subject ${manifest.subject.digest} has ${row.size} bytes, the manifest says ${manifest.subject.size}`);
    }
    return row;
  }

}
