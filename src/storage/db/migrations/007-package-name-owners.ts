import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * Package name ownership: an npm name belongs to the first project of its top-level namespace that published it,
 * so a sibling project cannot slip versions of it into the group and instance endpoints. The primary key is what
 * makes concurrent first publishes safe: one row per (top-level namespace, type, lower-cased name).
 *
 * Existing data: for every name, the project holding its oldest live (not being destroyed) package becomes the
 * owner. Names held by several projects before this migration keep their versions; only new versions are refused
 * outside the owner.
 */
export const migration007 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('package_name_owners')
      .addColumn('root_namespace_id', 'integer', (c) => c.notNull().references('namespaces.id').onDelete('cascade'))
      .addColumn('package_type', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('package_name_owners_pkey', ['root_namespace_id', 'package_type', 'name'])
      .execute();
    await db.schema.createIndex('package_name_owners_project_idx').on('package_name_owners').column('project_id').execute();

    // One row per (project, name) with its oldest live package; the top-level namespace is the first id of the
    // project namespace's traversal ids (`"1/5/9/"` → 1), computed here rather than in dialect-specific SQL.
    const rows = (await db
      .selectFrom('packages as p')
      .innerJoin('projects as pr', 'pr.id', 'p.project_id')
      .innerJoin('namespaces as n', 'n.id', 'pr.namespace_id')
      .select((eb) => ['p.project_id', 'p.package_type', 'p.name', 'n.traversal_ids', eb.fn.min('p.id').as('first_id'), eb.fn.min('p.created_at').as('first_at')])
      .where('p.package_type', '=', 'npm')
      .where('p.status', '<>', 'pending_destruction')
      .groupBy(['p.project_id', 'p.package_type', 'p.name', 'n.traversal_ids'])
      .execute()) as Array<{ project_id: number; package_type: string; name: string; traversal_ids: string; first_id: number; first_at: string }>;
    const owners = new Map<string, { root_namespace_id: number; package_type: string; name: string; project_id: number; created_at: string; first: number }>();
    for (const r of rows) {
      const root = Number(r.traversal_ids.split('/')[0]);
      if (!Number.isSafeInteger(root) || root <= 0) continue;
      const name = r.name.toLowerCase();
      const key = `${root}\0${r.package_type}\0${name}`;
      const first = Number(r.first_id);
      const known = owners.get(key);
      if (!known || first < known.first) {
        owners.set(key, { root_namespace_id: root, package_type: r.package_type, name, project_id: Number(r.project_id), created_at: String(r.first_at), first });
      }
    }
    const values = [...owners.values()].map(({ first: _first, ...row }) => row);
    for (let i = 0; i < values.length; i += 500) {
      await db.insertInto('package_name_owners').values(values.slice(i, i + 500)).execute();
    }
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
