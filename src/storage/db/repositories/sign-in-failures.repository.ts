import { sql } from 'kysely';
import type { Db } from './types.js';

/** Wrong-password counters (migration 009), one row per key, each with the start of its current window. */
export class SignInFailuresRepository {
  /** The counters of these keys whose window started after `windowFrom` (older windows count as empty). */
  async current(db: Db, keys: readonly string[], windowFrom: string): Promise<{ key: string; failures: number; window_start: string }[]> {
    return db.selectFrom('sign_in_failures').select(['key', 'failures', 'window_start']).where('key', 'in', keys).where('window_start', '>', windowFrom).execute();
  }

  /**
   * Counts one failure for each key in one statement per key: a window that started at or before `windowFrom` is
   * over, so the count starts again at 1 from `now`. Atomic, so concurrent failures on several instances all count.
   */
  async record(db: Db, keys: readonly string[], now: string, windowFrom: string): Promise<{ key: string; failures: number; window_start: string }[]> {
    const out: { key: string; failures: number; window_start: string }[] = [];
    for (const key of keys) {
      const row = await db
        .insertInto('sign_in_failures')
        .values({ key, failures: 1, window_start: now })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            failures: sql<number>`case when sign_in_failures.window_start <= ${windowFrom} then 1 else sign_in_failures.failures + 1 end`,
            window_start: sql<string>`case when sign_in_failures.window_start <= ${windowFrom} then ${now} else sign_in_failures.window_start end`,
          }),
        )
        .returning(['key', 'failures', 'window_start'])
        .executeTakeFirstOrThrow();
      out.push({ ...row, failures: Number(row.failures) });
    }
    return out;
  }

  async clear(db: Db, key: string): Promise<void> {
    await db.deleteFrom('sign_in_failures').where('key', '=', key).execute();
  }

  /** Takes back one counted attempt (one that turned out to be a right password). */
  async forgive(db: Db, key: string): Promise<void> {
    await db.updateTable('sign_in_failures').set({ failures: sql<number>`failures - 1` }).where('key', '=', key).where('failures', '>', 0).execute();
  }

  /** Drops every window that is over, so the table holds at most one period's worth of failures. */
  async prune(db: Db, windowFrom: string): Promise<void> {
    await db.deleteFrom('sign_in_failures').where('window_start', '<=', windowFrom).execute();
  }
}
