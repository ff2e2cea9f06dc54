/** Package and package-file listings for GitLab's packages API (docs/design/gitlab-compatibility.md#package-management-api) and the UI. */
import { sql } from 'kysely';
import type { PackageFileRow, PackageRow, PackageStatus } from '../schema.js';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { PackageFilter, PackageListRow } from '../../../domain/records.js';

/** GitLab's DISPLAYABLE_STATUSES: what listings show unless a status is asked for. */
export const DISPLAYABLE_STATUSES: readonly PackageStatus[] = ['default', 'error', 'deprecated'];

export type { PackageFilter, PackageListRow };

export class PackageListingRepository {
  async list(db: Db, projectIds: readonly number[], filter: PackageFilter, page: Page): Promise<PageOf<PackageListRow>> {
    if (projectIds.length === 0) return { items: [], total: 0 };
    let q = db.selectFrom('packages').innerJoin('projects', 'projects.id', 'packages.project_id').where('packages.project_id', 'in', projectIds);
    q = filter.status ? q.where('packages.status', '=', filter.status) : q.where('packages.status', 'in', DISPLAYABLE_STATUSES);
    if (filter.packageType) q = q.where('packages.package_type', '=', filter.packageType);
    if (filter.packageVersion) q = q.where('packages.version', '=', filter.packageVersion);
    if (filter.packageName) {
      const pattern = `%${likeEscape(filter.packageName.toLowerCase())}%`;
      q = q.where(sql<boolean>`lower(packages.name) like ${pattern} escape '\\'`);
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const column = { created_at: 'packages.created_at', name: 'packages.name', version: 'packages.version', type: 'packages.package_type' } as const;
    const items = await q
      .selectAll('packages')
      .select('projects.full_path as project_path')
      .orderBy(column[filter.orderBy], filter.sort)
      .orderBy('packages.id', filter.sort)
      .limit(page.perPage)
      .offset(offsetOf(page))
      .execute();
    return { items, total: Number(total.n) };
  }

  async find(db: Db, projectId: number, packageId: number): Promise<PackageRow | undefined> {
    return db
      .selectFrom('packages')
      .selectAll()
      .where('id', '=', packageId)
      .where('project_id', '=', projectId)
      .where('status', '<>', 'pending_destruction')
      .executeTakeFirst();
  }

  async files(db: Db, packageId: number, page: Page): Promise<PageOf<PackageFileRow>> {
    const q = db.selectFrom('package_files').where('package_id', '=', packageId).where('status', '=', 'default');
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll().orderBy('id', 'asc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  async file(db: Db, packageId: number, fileId: number): Promise<PackageFileRow | undefined> {
    return db
      .selectFrom('package_files')
      .selectAll()
      .where('id', '=', fileId)
      .where('package_id', '=', packageId)
      .where('status', '=', 'default')
      .executeTakeFirst();
  }

  /** npm dist-tags pointing at each package, for the `tags` field. */
  async tagsOf(db: Db, packageIds: readonly number[]): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    if (packageIds.length === 0) return out;
    const rows = await db.selectFrom('package_tags').select(['package_id', 'tag']).where('package_id', 'in', packageIds).orderBy('tag').execute();
    for (const r of rows) out.set(r.package_id, [...(out.get(r.package_id) ?? []), r.tag]);
    return out;
  }
}
