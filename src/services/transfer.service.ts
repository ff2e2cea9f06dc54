/**
 * `wharf transfer`: moves an install (the configured source, typically SQLite + files) to another database and
 * blob store (typically PostgreSQL + S3), keeping every id so that URLs, project ids and package ids stay valid,
 * and keeping token digests so that every token keeps working.
 *
 * Order and guarantees:
 * 1. The target must be empty, unless it holds this source's own unfinished transfer (the progress marker).
 * 2. Everything is read inside one read transaction on the source, so rows and the set of blobs form one
 *    consistent snapshot even when the source is still serving.
 * 3. Blobs first: only those missing on the target are copied, and every blob the snapshot references is then read
 *    back from the target and its SHA-256 checked. Rows referencing a blob only arrive once the blob is there.
 * 4. Rows table by table, parents first, in key order, with idempotent inserts; the marker records the last key
 *    copied of each table, so a re-run continues where an interrupted one stopped.
 * 5. PostgreSQL identity sequences are moved past the copied ids, and the marker is marked finished.
 */
import { createHash } from 'node:crypto';
import type { BlobStore } from './blob-store.js';
import type { Connection, Executor } from './ports.js';
import { errors, type AppError } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';

/** One table as the transfer copies it. */
export interface TransferTable {
  table: string;
  /** The primary key columns, in the order rows are read. */
  key: readonly string[];
  /**
   * The target's migrations already put rows here (its own npm signing key, migration 014): they are replaced by
   * the source's, so that every copied signature still names a listed key (docs/design/registry-signatures.md).
   */
  replacesTarget?: boolean;
}

/** A row as read from one database and written, unchanged, into the other. */
export type TransferRow = Record<string, unknown>;

/** Both databases, table by table, and the progress marker in the target (`TransferRepository`). */
export interface TransferPort {
  /** Every table, parents before children, so that each foreign key already has its target when a row arrives. */
  readonly tables: readonly TransferTable[];
  /** One page of `spec`'s rows after the key `after` (all from the start when undefined), in key order. */
  page(db: Executor, spec: TransferTable, after: readonly unknown[] | undefined, limit: number): Promise<TransferRow[]>;
  /** Inserts the rows, ids included, skipping those already there; how many were new. */
  insert(db: Executor, spec: TransferTable, rows: readonly TransferRow[]): Promise<number>;
  count(db: Executor, table: string): Promise<number>;
  /** The tables holding any row (the marker and `replacesTarget` tables aside). */
  nonEmptyTables(db: Executor): Promise<string[]>;
  /** Deletes every row of a `replacesTarget` table. */
  clear(db: Executor, spec: TransferTable): Promise<void>;
  /** Every blob the database references. */
  blobKeys(db: Executor): Promise<{ blobKey: string }[]>;
  /** The progress marker, as stored; undefined when there is none. */
  readMarker(db: Executor): Promise<unknown>;
  writeMarker(db: Executor, marker: unknown): Promise<void>;
  /** Moves generated-id sequences past the ids copied in (PostgreSQL). */
  repairSequences(db: Executor): Promise<void>;
}

export interface TransferEndpoint {
  db: Connection & Executor;
  blobs: BlobStore;
  /** Where it is, without credentials: identifies the source in the marker and in messages. */
  location: string;
}

export interface TransferOptions {
  /** Copy web UI sign-in sessions too (default true); without them users sign in again. */
  sessions?: boolean;
  /** Rows per insert. */
  batchSize?: number;
  /** Progress lines for the operator. */
  log?: (line: string) => void;
}

export interface TransferReport {
  resumed: boolean;
  blobs: { referenced: number; copied: number; alreadyPresent: number; verified: number };
  rows: Record<string, { source: number; inserted: number }>;
}

interface Marker {
  version: 1;
  source: string;
  startedAt: string;
  finishedAt: string | null;
  /** Per table: the key of the last row copied, or `"done"`. */
  tables: Record<string, unknown[] | 'done'>;
}

const isMarker = (v: unknown): v is Marker =>
  typeof v === 'object' && v !== null && (v as Marker).version === 1 && typeof (v as Marker).source === 'string';

const refuse = (message: string): AppError => errors.transferRefused(message);
/** The data itself is at fault (a blob missing or corrupt); the operator must repair it before a re-run can finish. */
const broken = (message: string): AppError => errors.transferDataBroken(message);

export class TransferService {
  constructor(
    private readonly repo: TransferPort,
    private readonly clock: Clock,
  ) {}

  async run(source: TransferEndpoint, target: TransferEndpoint, options: TransferOptions = {}): Promise<TransferReport> {
    const log = options.log ?? (() => undefined);
    const batchSize = options.batchSize ?? 500;
    if (source.location === target.location) throw refuse('the source and the target are the same database');

    const found = await this.repo.readMarker(target.db);
    let marker: Marker;
    let resumed = false;
    if (found !== undefined) {
      if (!isMarker(found)) throw refuse(`the target ${target.location} holds an unreadable transfer marker; use an empty database`);
      if (found.finishedAt) throw refuse(`the target ${target.location} already holds a finished transfer (${found.finishedAt}); nothing to do`);
      if (found.source !== source.location) {
        throw refuse(`the target ${target.location} holds an unfinished transfer from ${found.source}, not from ${source.location}`);
      }
      marker = found;
      resumed = true;
      log(`resuming the unfinished transfer started ${marker.startedAt}`);
    } else {
      const busy = await this.repo.nonEmptyTables(target.db);
      if (busy.length > 0) {
        throw refuse(`the target database ${target.location} is not empty (rows in ${busy.join(', ')}); transfer only into a new, empty database`);
      }
      marker = { version: 1, source: source.location, startedAt: this.clock.now().toISOString(), finishedAt: null, tables: {} };
      // Written before anything else, so an interrupted run is recognised as ours rather than as a non-empty target.
      await this.repo.writeMarker(target.db, marker);
    }

    const report: TransferReport = { resumed, blobs: { referenced: 0, copied: 0, alreadyPresent: 0, verified: 0 }, rows: {} };
    await source.db.transaction().execute(async (snapshot) => {
      await this.#blobs(snapshot, source.blobs, target.blobs, report, log);
      for (const spec of this.repo.tables) {
        const total = await this.repo.count(snapshot, spec.table);
        const stats = { source: total, inserted: 0 };
        report.rows[spec.table] = stats;
        if (spec.table === 'web_sessions' && options.sessions === false) {
          log(`${spec.table}: skipped (${total} rows)`);
          continue;
        }
        let after = marker.tables[spec.table];
        if (after === 'done') {
          log(`${spec.table}: already copied`);
          continue;
        }
        for (;;) {
          const rows: TransferRow[] = await this.repo.page(snapshot, spec, after, batchSize);
          if (rows.length === 0) break;
          // Rows and the marker move together, so the marker never claims rows the target does not have.
          await target.db.transaction().execute(async (trx) => {
            if (spec.replacesTarget && after === undefined) await this.repo.clear(trx, spec);
            stats.inserted += await this.repo.insert(trx, spec, rows);
            after = spec.key.map((k) => rows[rows.length - 1]![k]);
            marker.tables[spec.table] = after;
            await this.repo.writeMarker(trx, marker);
          });
        }
        marker.tables[spec.table] = 'done';
        await this.repo.writeMarker(target.db, marker);
        log(`${spec.table}: ${total} rows (${stats.inserted} inserted now)`);
      }
    });

    await this.repo.repairSequences(target.db);
    marker.finishedAt = this.clock.now().toISOString();
    await this.repo.writeMarker(target.db, marker);
    log('transfer complete');
    return report;
  }

  async #blobs(snapshot: Executor, from: BlobStore, to: BlobStore, report: TransferReport, log: (line: string) => void): Promise<void> {
    const keys = await this.repo.blobKeys(snapshot);
    report.blobs.referenced = keys.length;
    const missingAtSource: string[] = [];
    for (const { blobKey } of keys) {
      if (!(await to.head(blobKey))) {
        const stream = await from.get(blobKey);
        if (!stream) {
          // Keep going: one run then reports every missing blob at once, and copies all the others.
          missingAtSource.push(blobKey);
          continue;
        }
        // The store refuses bytes whose digest differs from the key, so a corrupt source copy never lands.
        await to.put(stream, { expectedSha256: blobKey });
        report.blobs.copied++;
        log(`blob ${blobKey}: copied`);
      } else {
        report.blobs.alreadyPresent++;
      }
      // Read back what the target now holds: this is the copy users will download.
      const back = await to.get(blobKey);
      if (!back) throw broken(`blob ${blobKey} is missing on the target right after it was written`);
      const hash = createHash('sha256');
      for await (const chunk of back) hash.update(chunk as Buffer);
      const digest = hash.digest('hex');
      if (digest !== blobKey) throw broken(`blob ${blobKey} on the target has SHA-256 ${digest}; remove it there and run the transfer again`);
      report.blobs.verified++;
    }
    log(`blobs: ${keys.length} referenced, ${report.blobs.copied} copied, ${report.blobs.alreadyPresent} already present, ${report.blobs.verified} verified`);
    if (missingAtSource.length > 0) {
      throw broken(`${missingAtSource.length} blob(s) referenced by the source database are missing from its blob store: ${missingAtSource.join(', ')}`);
    }
  }
}
