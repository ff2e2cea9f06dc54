/**
 * The provenance attestations of npm versions (docs/design/npm-provenance.md): what `GET …/-/npm/v1/attestations/
 * <name>@<version>` answers, at the project, group and instance endpoints alike. The caller's right to read the
 * projects was checked before (the same as for the packument); this finds the version the packument of those
 * projects shows and answers its stored bundle, byte for byte. No cryptography per request: the bundle was checked
 * at publish time.
 */
import type { Readable } from 'node:stream';
import { errors } from '../../domain/errors.js';
import { MAX_PROVENANCE_BUNDLE_BYTES } from '../../domain/npm/provenance.js';
import type { NpmAttestationRow } from '../../domain/records.js';
import type { BlobStore } from '../blob-store.js';
import type { Executor } from '../ports.js';

/** What the attestations are read and written through (`NpmAttestationsRepository`). */
export interface NpmAttestationsPort {
  insert(db: Executor, row: NpmAttestationRow): Promise<void>;
  /** The attestation of the version the packument of these projects shows; null: none; undefined: no such version. */
  ofServedVersion(db: Executor, projectIds: readonly number[], name: string, version: string): Promise<NpmAttestationRow | null | undefined>;
  /** The attestation stored with one package row (a publish retry compares its bundle). */
  ofPackage(db: Executor, packageId: number): Promise<NpmAttestationRow | undefined>;
}

export interface NpmAttestationsServiceDeps {
  db: Executor;
  attestations: NpmAttestationsPort;
  blobs: Pick<BlobStore, 'get' | 'cached'>;
}

async function readBounded(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new Error(`stored provenance bundle larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export class NpmAttestationsService {
  readonly #d: NpmAttestationsServiceDeps;
  constructor(deps: NpmAttestationsServiceDeps) {
    this.#d = deps;
  }

  /**
   * `{"attestations":[{"predicateType":…,"bundle":<the stored bundle>}]}`, the public registry's shape (pacote reads
   * `attestations[].predicateType` and `.bundle`); 404 when the version, or its provenance, is not there.
   */
  async document(projectIds: readonly number[], name: string, version: string): Promise<Buffer> {
    const { db, attestations } = this.#d;
    const row = await attestations.ofServedVersion(db, projectIds, name, version);
    if (!row) throw errors.npmNotFound('Attestations');
    const bundle = await this.#bundle(row);
    // The bundle is embedded as stored (it was parsed at publish time, so it is one JSON value), never re-serialised.
    return Buffer.concat([Buffer.from(`{"attestations":[{"predicateType":${JSON.stringify(row.predicate_type)},"bundle":`), bundle, Buffer.from('}]}')]);
  }

  async #bundle(row: NpmAttestationRow): Promise<Buffer> {
    const { blobs } = this.#d;
    const cached = blobs.cached?.(row.blob_key);
    const bytes = cached ?? (await (async () => {
      const stream = await blobs.get(row.blob_key);
      // A row without its blob is damage an operator must see (a 500 in the log), not a silent "no provenance".
      if (!stream) throw new Error(`provenance bundle blob ${row.blob_key} of package ${row.package_id} is missing`);
      return readBounded(stream, MAX_PROVENANCE_BUNDLE_BYTES);
    })());
    return bytes;
  }
}
