/**
 * `wharf transfer` interrupted in the middle of a table resumes from the last row it committed: every row arrives
 * once, none twice, and the target ends up equal to the source. (The e2e test interrupts before any row; this one
 * stops it between two pages of one table.)
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { systemClock } from '../../src/domain/clock.js';
import { TransferService } from '../../src/services/transfer.service.js';
import { FsBlobStore } from '../../src/storage/blobs/fs-blob-store.js';
import { openDatabase, type DatabaseHandle } from '../../src/storage/db/database.js';
import { migrateToLatest } from '../../src/storage/db/migrate.js';
import {
  TRANSFER_MARKER_KEY,
  TRANSFER_TABLES,
  TransferRepository,
  type Row,
  type TableSpec,
} from '../../src/storage/db/repositories/transfer.repository.js';
import type { Database } from '../../src/storage/db/schema.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { esc, publishBody } from '../helpers/npm.js';
import { provenanceText, withProvenance } from '../helpers/npm-provenance.js';

/** Fails the `failAt`-th page written into `table`, after the pages before it were committed. */
class InterruptedRepository extends TransferRepository {
  #pages = 0;
  constructor(
    dialect: 'sqlite' | 'postgres',
    private readonly table: string,
    private readonly failAt: number,
  ) {
    super(dialect);
  }
  override async insert(db: Parameters<TransferRepository['insert']>[0], spec: TableSpec, rows: readonly Row[]): Promise<number> {
    if (spec.table === this.table && ++this.#pages === this.failAt) throw new Error('simulated crash');
    return super.insert(db, spec, rows);
  }
}

/** Records which rows each table was offered, to show where a run started. */
class RecordingRepository extends TransferRepository {
  readonly offered = new Map<string, unknown[]>();
  override async insert(db: Parameters<TransferRepository['insert']>[0], spec: TableSpec, rows: readonly Row[]): Promise<number> {
    this.offered.set(spec.table, [...(this.offered.get(spec.table) ?? []), ...rows.map((r) => r[spec.key[0]!])]);
    return super.insert(db, spec, rows);
  }
}

const orderedRows = async (db: Kysely<Database>, spec: TableSpec): Promise<Row[]> => {
  let q = (db as Kysely<any>).selectFrom(spec.table).selectAll();
  if (spec.table === 'application_settings') q = q.where('key', '<>', TRANSFER_MARKER_KEY);
  for (const k of spec.key) q = q.orderBy(k);
  // Both dialects hand back the same column types, except PostgreSQL's bigint counts: compare as JSON of numbers.
  return ((await q.execute()) as Row[]).map((r) => JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Row);
};

for (const dialect of DIALECTS) {
  describe(`transfer resumes within a table [sqlite → ${dialect}]`, () => {
    let source: TestApp;
    let targetDb: TestDatabase;
    let target: DatabaseHandle;
    let targetBlobs: FsBlobStore;
    let bundleKey: string;

    before(async () => {
      source = await startApp('sqlite');
      const group = await source.call('POST', '/api/v4/groups', { token: ROOT_TOKEN, body: { name: 'acme', path: 'acme', visibility: 'public' } });
      const project = await source.call('POST', '/api/v4/projects', { token: ROOT_TOKEN, body: { name: 'web', namespace_id: group.body.id } });
      for (const name of ['@acme/one', '@acme/two']) {
        for (const version of ['1.0.0', '1.1.0', '2.0.0']) {
          const { body, tgz } = publishBody(name, version);
          // One version carries a provenance bundle: its row and its blob travel too (docs/design/npm-provenance.md).
          if (name === '@acme/two' && version === '2.0.0') {
            const bundle = provenanceText(name, version, tgz);
            withProvenance(body, name, version, bundle);
            bundleKey = createHash('sha256').update(bundle).digest('hex');
          }
          const r = await source.call('PUT', `/api/v4/projects/${project.body.id}/packages/npm/${esc(name)}`, { token: ROOT_TOKEN, body });
          assert.equal(r.status, 200, r.text);
        }
      }
      targetDb = await createTestDatabase(dialect);
      target = await openDatabase({ databaseUrl: targetDb.databaseUrl, dataDir: targetDb.dataDir });
      await migrateToLatest(target.db, target.dialect);
      targetBlobs = new FsBlobStore(path.join(targetDb.dataDir, 'blobs'));
    });

    after(async () => {
      await target?.close();
      await targetDb?.drop();
      await source?.close();
    });

    const run = (repo: TransferRepository) =>
      new TransferService(repo, systemClock).run(
        { db: source.deps.database.db, blobs: source.deps.blobs, location: 'source.db' },
        { db: target.db, blobs: targetBlobs, location: 'target' },
        { batchSize: 2 },
      );

    it('stops between two pages with the marker at the last committed row', async () => {
      await assert.rejects(run(new InterruptedRepository(target.dialect, 'packages', 2)), /simulated crash/);
      const copied = await orderedRows(target.db, { table: 'packages', key: ['id'], identity: true });
      const all = await orderedRows(source.deps.database.db, { table: 'packages', key: ['id'], identity: true });
      assert.equal(all.length, 6);
      assert.deepEqual(copied, all.slice(0, 2), 'the first page, and only it, landed');
      const marker = await new TransferRepository(target.dialect).readMarker(target.db);
      assert.deepEqual((marker as { tables: Record<string, unknown> }).tables.packages, [all[1]!.id]);
      assert.equal((marker as { tables: Record<string, unknown> }).tables.users, 'done');
    });

    it('the next run resumes there, copies the rest once, and leaves a target equal to the source', async () => {
      const repo = new RecordingRepository(target.dialect);
      const report = await run(repo);
      assert.equal(report.resumed, true);
      const all = await orderedRows(source.deps.database.db, { table: 'packages', key: ['id'], identity: true });
      assert.deepEqual(repo.offered.get('packages'), all.slice(2).map((r) => r.id), 'it reads on after the last committed row');
      assert.equal(repo.offered.has('users'), false, 'finished tables are not read again');
      assert.deepEqual(report.rows.packages, { source: 6, inserted: 4 });
      for (const spec of TRANSFER_TABLES) {
        assert.deepEqual(await orderedRows(target.db, spec), await orderedRows(source.deps.database.db, spec), spec.table);
      }
      assert.equal((await orderedRows(target.db, { table: 'npm_attestations', key: ['package_id'], identity: false })).length, 1);
      assert.ok(await targetBlobs.head(bundleKey), 'the provenance bundle blob was copied');
    });
  });
}
