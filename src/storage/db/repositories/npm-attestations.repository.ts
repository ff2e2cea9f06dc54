/** The provenance bundles of npm versions (migration 016, docs/design/npm-provenance.md). */
import { sql } from 'kysely';
import type { NpmAttestationRow } from '../../../domain/records.js';
import { INSTALLABLE_STATUSES } from './packages.repository.js';
import type { Db } from './types.js';

export class NpmAttestationsRepository {
  async insert(db: Db, row: NpmAttestationRow): Promise<void> {
    await db.insertInto('npm_attestations').values(row).execute();
  }

  /**
   * The attestation of the version a packument of these projects shows for `name@version`: the installable package
   * with a live file and the highest id (the merge's "most recently published wins"), whether or not it has one.
   * `null`: that version has none; undefined: no such installable version.
   */
  async ofServedVersion(db: Db, projectIds: readonly number[], name: string, version: string): Promise<NpmAttestationRow | null | undefined> {
    if (projectIds.length === 0) return undefined;
    const row = await db
      .selectFrom('packages as p')
      .leftJoin('npm_attestations as a', 'a.package_id', 'p.id')
      .select(['p.id as pid', 'a.package_id', 'a.predicate_type', 'a.blob_key', 'a.size', 'a.build_source', 'a.build_run', 'a.created_at'])
      .where('p.project_id', 'in', projectIds)
      .where('p.package_type', '=', 'npm')
      .where('p.name', '=', name)
      .where('p.version', '=', version)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .where((eb) =>
        eb.exists(eb.selectFrom('package_files as f').select(sql<number>`1`.as('x')).whereRef('f.package_id', '=', 'p.id').where('f.status', '=', 'default')),
      )
      .orderBy('p.id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.package_id === null || row.predicate_type === null || row.blob_key === null || row.size === null || row.created_at === null) return null;
    return {
      package_id: row.package_id,
      predicate_type: row.predicate_type,
      blob_key: row.blob_key,
      size: Number(row.size),
      build_source: row.build_source,
      build_run: row.build_run,
      created_at: row.created_at,
    };
  }

  /** The attestation of one package, whatever its status (the package page shows listed versions). */
  async ofPackage(db: Db, packageId: number): Promise<NpmAttestationRow | undefined> {
    return db.selectFrom('npm_attestations').selectAll().where('package_id', '=', packageId).executeTakeFirst();
  }

  /** Is the blob the bundle of a version that is not being deleted? */
  async blobReferenced(db: Db, blobKey: string): Promise<boolean> {
    const r = await db
      .selectFrom('npm_attestations as a')
      .innerJoin('packages as p', 'p.id', 'a.package_id')
      .select(sql<number>`1`.as('x'))
      .where('a.blob_key', '=', blobKey)
      .where('p.status', '<>', 'pending_destruction')
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }
}
