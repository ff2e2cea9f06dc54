import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * What Helm needs beyond the shared package tables of 002:
 *
 * - `helm_file_metadata`: per uploaded file, the parsed `Chart.yaml` (a chart) or the digests a provenance file
 *   signs. It repeats the file's project and channel so that building a channel's index is one indexed range,
 *   not a scan of every package file called `stable` on the instance.
 * - `helm_channels`: one row per (project, channel). `revision` is bumped in the same transaction as every write
 *   to the channel, and the rendered `index.yaml` is trusted only while `built_revision` equals it (and it was built
 *   for the same context path and package limit). Updating the row also serialises writers of one channel.
 * - a partial unique index keeping at most one live file of a given name per package and channel: the database,
 *   not application code, guarantees that "newest wins" leaves exactly one chart in the index.
 * - triggers that bump the revision of every channel a Helm package or file is in whenever its status changes or a
 *   live file row is deleted (a deleted package row bumps all its project's channels: its files are gone by then). Wharf's Helm code bumps revisions itself; the triggers make every other writer (the
 *   generic `DELETE /projects/:id/packages/:package_id`, `gc`, an operator's SQL) invalidate the cached index in
 *   the same transaction too, so a deleted chart can never linger in a prebuilt `index.yaml`.
 */
export const migration003 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('helm_file_metadata')
      .addColumn('package_file_id', 'integer', (c) => c.primaryKey().references('package_files.id').onDelete('cascade'))
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('channel', 'text', (c) => c.notNull())
      // 'chart' or 'provenance'
      .addColumn('kind', 'text', (c) => c.notNull())
      // JSON: the validated Chart.yaml of a chart; `{"name","version","sha256"}` of a provenance file.
      .addColumn('metadata', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('helm_file_metadata_channel_idx')
      .on('helm_file_metadata')
      .columns(['project_id', 'channel', 'kind'])
      .execute();

    await db.schema
      .createTable('helm_channels')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      // Time of the last change; rendered as the index's `generated`, so a revision always renders to the same bytes.
      .addColumn('modified_at', 'text', (c) => c.notNull())
      .addColumn('built_revision', 'integer')
      // The context path and package limit the cached document was rendered for.
      .addColumn('built_for', 'text')
      .addColumn('document', 'text')
      .addColumn('etag', 'text')
      .addPrimaryKeyConstraint('helm_channels_pk', ['project_id', 'channel'])
      .execute();

    await db.schema
      .createIndex('package_files_helm_live_idx')
      .on('package_files')
      .columns(['package_id', 'channel', 'file_name'])
      .unique()
      .where(sql.ref('status'), '=', sql.lit('default'))
      .where(sql.ref('channel'), 'is not', null)
      .execute();

    await createInvalidationTriggers(db, dialect);
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});

/** The channels (project, channel) a package's Helm files live in. */
const CHANNELS_OF_PACKAGE = (pkg: string) => `
  select h.project_id, h.channel from package_files f
  join helm_file_metadata h on h.package_file_id = f.id
  where f.package_id = ${pkg}`;

async function createInvalidationTriggers(db: Kysely<any>, dialect: DialectName): Promise<void> {
  if (dialect === 'sqlite') {
    const now = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
    const bump = `update helm_channels set revision = revision + 1, modified_at = ${now}`;
    await sql.raw(`
      create trigger helm_package_status_changed after update of status on packages
      for each row when new.package_type = 'helm' and new.status is not old.status
      begin
        ${bump} where (project_id, channel) in (${CHANNELS_OF_PACKAGE('new.id')});
      end`).execute(db);
    await sql.raw(`
      create trigger helm_package_deleted after delete on packages
      for each row when old.package_type = 'helm'
      begin
        ${bump} where project_id = old.project_id;
      end`).execute(db);
    await sql.raw(`
      create trigger helm_file_status_changed after update of status on package_files
      for each row when new.channel is not null and new.status is not old.status
      begin
        ${bump} where channel = new.channel and project_id = (select project_id from packages where id = new.package_id);
      end`).execute(db);
    await sql.raw(`
      create trigger helm_file_deleted after delete on package_files
      for each row when old.channel is not null and old.status = 'default'
      begin
        ${bump} where channel = old.channel and project_id = (select project_id from packages where id = old.package_id);
      end`).execute(db);
    return;
  }
  const now = `to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const bump = `update helm_channels set revision = revision + 1, modified_at = ${now}`;
  await sql.raw(`
    create function helm_package_status_changed() returns trigger language plpgsql as $$
    begin
      ${bump} where (project_id, channel) in (${CHANNELS_OF_PACKAGE('new.id')});
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create trigger helm_package_status_changed after update of status on packages
    for each row when (new.package_type = 'helm' and new.status is distinct from old.status)
    execute function helm_package_status_changed()`).execute(db);
  await sql.raw(`
    create function helm_package_deleted() returns trigger language plpgsql as $$
    begin
      ${bump} where project_id = old.project_id;
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create trigger helm_package_deleted after delete on packages
    for each row when (old.package_type = 'helm')
    execute function helm_package_deleted()`).execute(db);
  await sql.raw(`
    create function helm_file_changed() returns trigger language plpgsql as $$
    declare
      f record;
    begin
      if tg_op = 'DELETE' then f := old; else f := new; end if;
      ${bump} where channel = f.channel and project_id = (select project_id from packages where id = f.package_id);
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create trigger helm_file_status_changed after update of status on package_files
    for each row when (new.channel is not null and new.status is distinct from old.status)
    execute function helm_file_changed()`).execute(db);
  await sql.raw(`
    create trigger helm_file_deleted after delete on package_files
    for each row when (old.channel is not null and old.status = 'default')
    execute function helm_file_changed()`).execute(db);
}
