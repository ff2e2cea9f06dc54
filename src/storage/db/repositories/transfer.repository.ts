/**
 * The SQL of `wharf transfer`: reading every table of one Wharf database in key order and writing the rows, ids
 * included, into another, plus the progress marker that makes a transfer resumable and the sequence repair
 * PostgreSQL needs after rows were inserted with explicit ids.
 *
 * Both dialects store the same column types (schema.ts), so a row read from one is written to the other unchanged.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';
import type { Database } from '../schema.js';
import type { Db } from './types.js';

type TableName = keyof Database;

export interface TableSpec {
  table: TableName;
  /** The primary key columns, in the order rows are read. */
  key: readonly string[];
  /** Has a generated integer `id` whose sequence needs repair on PostgreSQL. */
  identity: boolean;
  /** The target's migrations made rows here that the source's replace (`TransferTable.replacesTarget`). */
  replacesTarget?: boolean;
}

/**
 * Every table, parents before children, so that each foreign key already has its target when a row arrives.
 * Namespaces come in id order, which puts a parent group before its subgroups (a parent exists before a child).
 */
export const TRANSFER_TABLES: readonly TableSpec[] = [
  { table: 'namespaces', key: ['id'], identity: true },
  { table: 'users', key: ['id'], identity: true },
  { table: 'projects', key: ['id'], identity: true },
  { table: 'routes', key: ['path_lower'], identity: false },
  { table: 'package_protection_rules', key: ['id'], identity: true },
  { table: 'npm_trusted_publishers', key: ['id'], identity: true },
  { table: 'members', key: ['id'], identity: true },
  { table: 'personal_access_tokens', key: ['id'], identity: true },
  { table: 'deploy_tokens', key: ['id'], identity: true },
  { table: 'application_settings', key: ['key'], identity: false },
  { table: 'web_sessions', key: ['id_digest'], identity: false },
  { table: 'packages', key: ['id'], identity: true },
  { table: 'package_files', key: ['id'], identity: true },
  { table: 'npm_metadata', key: ['package_id'], identity: false },
  { table: 'npm_attestations', key: ['package_id'], identity: false },
  { table: 'package_tags', key: ['id'], identity: true },
  { table: 'package_documents', key: ['project_id', 'package_type', 'package_name'], identity: false },
  { table: 'package_name_owners', key: ['root_namespace_id', 'package_type', 'name'], identity: false },
  { table: 'helm_file_metadata', key: ['package_file_id'], identity: false },
  { table: 'helm_channels', key: ['project_id', 'channel'], identity: false },
  { table: 'audit_events', key: ['id'], identity: true },
  { table: 'registry_signing_keys', key: ['keyid'], identity: false, replacesTarget: true },
];

/** The application_settings key holding the progress marker; the settings service ignores unknown keys. */
export const TRANSFER_MARKER_KEY = 'wharf_transfer_progress';

export type Row = Record<string, unknown>;

export class TransferRepository {
  readonly tables = TRANSFER_TABLES;

  constructor(private readonly targetDialect: DialectName) {}

  /**
   * One page of `table` after `after` (the key of the last row already copied), in key order. Keyset paging over
   * the primary key: stable and indexed, whatever the table's size.
   */
  async page(db: Db, spec: TableSpec, after: readonly unknown[] | undefined, limit: number): Promise<Row[]> {
    const cols = spec.key.map((c) => sql.ref(c));
    let q = (db as Kysely<any>).selectFrom(spec.table).selectAll();
    if (after) {
      // Row-value comparison `(a, b) > (x, y)` is lexicographic in both SQLite and PostgreSQL.
      q = q.where(sql<boolean>`(${sql.join(cols)}) > (${sql.join(after.map((v) => sql`${v}`))})`);
    }
    for (const c of spec.key) q = q.orderBy(c);
    return (await q.limit(limit).execute()) as Row[];
  }

  /** Inserts rows as they are, ids included; rows already there (a resumed transfer) are left alone. */
  async insert(db: Db, spec: TableSpec, rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0;
    const r = await (db as Kysely<any>)
      .insertInto(spec.table)
      .values(rows as Row[])
      .onConflict((oc) => oc.columns(spec.key as string[]).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0);
  }

  async count(db: Db, table: TableName): Promise<number> {
    const r = await (db as Kysely<any>).selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Tables of the target that hold rows, other than the progress marker. */
  async nonEmptyTables(db: Db): Promise<string[]> {
    const out: string[] = [];
    for (const spec of TRANSFER_TABLES) {
      if (spec.replacesTarget) continue;
      let q = (db as Kysely<any>).selectFrom(spec.table).select(sql.lit(1).as('x'));
      if (spec.table === 'application_settings') q = q.where('key', '<>', TRANSFER_MARKER_KEY);
      if (await q.limit(1).executeTakeFirst()) out.push(spec.table);
    }
    return out;
  }

  async clear(db: Db, spec: TableSpec): Promise<void> {
    if (!spec.replacesTarget) throw new Error(`${spec.table} is not replaced by a transfer`);
    await (db as Kysely<any>).deleteFrom(spec.table).execute();
  }

  /** Every distinct blob the package files reference, in digest order. */
  async blobKeys(db: Db): Promise<{ blobKey: string; size: number }[]> {
    const rows = await db
      .selectFrom('package_files')
      .select(['blob_key', (eb) => eb.fn.max('size').as('size')])
      .groupBy('blob_key')
      .orderBy('blob_key')
      .execute();
    // npm provenance bundles are blobs too (docs/design/npm-provenance.md).
    const bundles = await db.selectFrom('npm_attestations').select(['blob_key', (eb) => eb.fn.max('size').as('size')]).groupBy('blob_key').execute();
    const sizes = new Map(rows.map((r) => [r.blob_key, Number(r.size)]));
    for (const b of bundles) if (!sizes.has(b.blob_key)) sizes.set(b.blob_key, Number(b.size));
    return [...sizes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([blobKey, size]) => ({ blobKey, size }));
  }

  async readMarker(db: Db): Promise<unknown> {
    const row = await db.selectFrom('application_settings').select('value').where('key', '=', TRANSFER_MARKER_KEY).executeTakeFirst();
    return row ? (JSON.parse(row.value) as unknown) : undefined;
  }

  async writeMarker(db: Db, marker: unknown): Promise<void> {
    const value = JSON.stringify(marker);
    await db
      .insertInto('application_settings')
      .values({ key: TRANSFER_MARKER_KEY, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  /**
   * After rows arrived with explicit ids, PostgreSQL's identity sequences still start at 1; the next insert would
   * collide. Move each past the largest id. SQLite's AUTOINCREMENT follows max(id) by itself.
   */
  async repairSequences(db: Db): Promise<void> {
    if (this.targetDialect !== 'postgres') return;
    for (const spec of TRANSFER_TABLES) {
      if (!spec.identity) continue;
      await sql`select setval(pg_get_serial_sequence(${spec.table}, 'id'), coalesce((select max(id) from ${sql.table(spec.table)}), 0) + 1, false)`.execute(db);
    }
  }
}
