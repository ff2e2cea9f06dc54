import type { Db } from './types.js';

/** Application settings as key → JSON value rows; the settings service owns defaults and validation. */
export class SettingsRepository {
  async all(db: Db): Promise<Record<string, unknown>> {
    const rows = await db.selectFrom('application_settings').selectAll().execute();
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  async put(db: Db, values: Record<string, unknown>): Promise<void> {
    for (const [key, value] of Object.entries(values)) {
      await db
        .insertInto('application_settings')
        .values({ key, value: JSON.stringify(value) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value) }))
        .execute();
    }
  }
}
