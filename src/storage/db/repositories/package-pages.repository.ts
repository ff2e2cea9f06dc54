/** What the UI's package pages show: summaries per package name, every version with its files, and metadata. */
import { sql } from 'kysely';
import type { PackageRow, PackageType } from '../schema.js';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { PackageSummary, VersionWithFiles } from '../../../domain/records.js';

const LISTED = ['default', 'hidden', 'deprecated'] as const;

export type { PackageSummary, VersionWithFiles };

export class PackagePagesRepository {
  async summaries(db: Db, projectIds: readonly number[], filter: { q?: string | undefined; type?: PackageType | undefined }, page: Page): Promise<PageOf<PackageSummary>> {
    if (projectIds.length === 0) return { items: [], total: 0 };
    let q = db.selectFrom('packages').where('packages.project_id', 'in', projectIds).where('packages.status', 'in', LISTED);
    if (filter.type) q = q.where('packages.package_type', '=', filter.type);
    if (filter.q) {
      const pattern = `%${likeEscape(filter.q.toLowerCase())}%`;
      q = q.where(sql<boolean>`lower(packages.name) like ${pattern} escape '\\'`);
    }
    const grouped = q
      .select((eb) => ['packages.project_id', 'packages.package_type', 'packages.name', eb.fn.countAll<number>().as('versions'), eb.fn.max('packages.created_at').as('updated_at'), eb.fn.max('packages.id').as('latest_id')])
      .groupBy(['packages.project_id', 'packages.package_type', 'packages.name']);
    const total = await db.selectFrom(grouped.as('g')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await grouped.orderBy('updated_at', 'desc').orderBy('packages.name').limit(page.perPage).offset(offsetOf(page)).execute();
    if (rows.length === 0) return { items: [], total: Number(total.n) };
    const latest = await db
      .selectFrom('packages')
      .innerJoin('projects', 'projects.id', 'packages.project_id')
      .select(['packages.id', 'packages.version', 'projects.full_path'])
      .where('packages.id', 'in', rows.map((r) => Number(r.latest_id)))
      .execute();
    const byId = new Map(latest.map((l) => [l.id, l]));
    return {
      total: Number(total.n),
      items: rows.map((r) => {
        const l = byId.get(Number(r.latest_id));
        return {
          project_id: r.project_id,
          project_path: l?.full_path ?? '',
          package_type: r.package_type,
          name: r.name,
          versions: Number(r.versions),
          updated_at: String(r.updated_at),
          latest_id: Number(r.latest_id),
          latest_version: l?.version ?? '',
        };
      }),
    };
  }

  async find(db: Db, projectId: number, packageId: number): Promise<PackageRow | undefined> {
    return db.selectFrom('packages').selectAll().where('id', '=', packageId).where('project_id', '=', projectId).where('status', 'in', LISTED).executeTakeFirst();
  }

  /** Every listed version of the package name in the project, newest first, with its live files. */
  async versions(db: Db, projectId: number, type: PackageType, name: string): Promise<VersionWithFiles[]> {
    const pkgs = await db
      .selectFrom('packages')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('package_type', '=', type)
      .where('name', '=', name)
      .where('status', 'in', LISTED)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    if (pkgs.length === 0) return [];
    const files = await db.selectFrom('package_files').selectAll().where('package_id', 'in', pkgs.map((p) => p.id)).where('status', '=', 'default').orderBy('id').execute();
    return pkgs.map((p) => ({ ...p, files: files.filter((f) => f.package_id === p.id) }));
  }

  async tags(db: Db, projectId: number, name: string): Promise<{ tag: string; package_id: number }[]> {
    return db.selectFrom('package_tags').select(['tag', 'package_id']).where('project_id', '=', projectId).where('package_name', '=', name).orderBy('tag').execute();
  }

  async npmMetadata(db: Db, packageId: number): Promise<{ package_json: string; readme: string | null } | undefined> {
    return db.selectFrom('npm_metadata').select(['package_json', 'readme']).where('package_id', '=', packageId).executeTakeFirst();
  }

  async npmAttestation(db: Db, packageId: number): Promise<{ predicate_type: string; build_source: string | null; build_run: string | null } | undefined> {
    return db.selectFrom('npm_attestations').select(['predicate_type', 'build_source', 'build_run']).where('package_id', '=', packageId).executeTakeFirst();
  }

  /** The parsed Chart.yaml stored for a chart file (JSON text), if any. */
  async chartMetadata(db: Db, fileId: number): Promise<string | undefined> {
    const r = await db.selectFrom('helm_file_metadata').select('metadata').where('package_file_id', '=', fileId).where('kind', '=', 'chart').executeTakeFirst();
    return r?.metadata;
  }
}
