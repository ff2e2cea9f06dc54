import type { ColumnDefinitionBuilder, Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/** An integer primary key that both dialects generate. */
export const idColumn =
  (dialect: DialectName) =>
  (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement();

export const migration001 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    const id = idColumn(dialect);

    await db.schema
      .createTable('namespaces')
      .addColumn('id', 'integer', id)
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('full_path', 'text', (c) => c.notNull())
      .addColumn('parent_id', 'integer', (c) => c.references('namespaces.id').onDelete('restrict'))
      .addColumn('traversal_ids', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('owner_id', 'integer')
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('namespaces_parent_idx').on('namespaces').column('parent_id').execute();
    await db.schema.createIndex('namespaces_traversal_idx').on('namespaces').column('traversal_ids').execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'integer', id)
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('username_lower', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_lower', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text')
      .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('namespace_id', 'integer', (c) => c.references('namespaces.id').onDelete('set null'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('projects')
      .addColumn('id', 'integer', id)
      .addColumn('namespace_id', 'integer', (c) => c.notNull().references('namespaces.id').onDelete('restrict'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('full_path', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('package_registry_access_level', 'text', (c) => c.notNull().defaultTo('enabled'))
      .addColumn('creator_id', 'integer')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('projects_namespace_idx').on('projects').column('namespace_id').execute();

    await db.schema
      .createTable('routes')
      .addColumn('path_lower', 'text', (c) => c.primaryKey())
      .addColumn('source_type', 'text', (c) => c.notNull())
      .addColumn('source_id', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('routes_source_idx')
      .on('routes')
      .columns(['source_type', 'source_id'])
      .unique()
      .execute();

    await db.schema
      .createTable('members')
      .addColumn('id', 'integer', id)
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('source_type', 'text', (c) => c.notNull())
      .addColumn('source_id', 'integer', (c) => c.notNull())
      .addColumn('access_level', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('created_by_id', 'integer')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('members_source_user_idx')
      .on('members')
      .columns(['source_type', 'source_id', 'user_id'])
      .unique()
      .execute();
    await db.schema.createIndex('members_user_idx').on('members').column('user_id').execute();

    await db.schema
      .createTable('personal_access_tokens')
      .addColumn('id', 'integer', id)
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('token_digest', 'text', (c) => c.notNull().unique())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_used_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('pat_user_idx').on('personal_access_tokens').column('user_id').execute();

    await db.schema
      .createTable('deploy_tokens')
      .addColumn('id', 'integer', id)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('token_digest', 'text', (c) => c.notNull().unique())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('project_id', 'integer', (c) => c.references('projects.id').onDelete('cascade'))
      .addColumn('group_id', 'integer', (c) => c.references('namespaces.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('deploy_tokens_project_idx').on('deploy_tokens').column('project_id').execute();
    await db.schema.createIndex('deploy_tokens_group_idx').on('deploy_tokens').column('group_id').execute();

    await db.schema
      .createTable('application_settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
