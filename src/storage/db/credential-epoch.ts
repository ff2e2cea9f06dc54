/**
 * "Has any credential ended or narrowed since?" — the `credential_epoch` counter that database triggers move
 * (migration 009), read so that a cached identity is served only while the counter has not moved.
 *
 * Correctness: a request may use a value only if the read that produced it was sent *after* the request asked,
 * so a revocation committed anywhere before the request arrived is seen. Reads are batched: every caller in one
 * turn of the event loop waits for one query, sent at the end of that turn (`setImmediate`), after all of them
 * asked. A caller arriving once that query is on its way waits for the next one.
 *
 * Cost: on SQLite the change signal (`change-signal.ts`) tells for free that nothing at all was written since the
 * last read, so a steady state costs no query; on PostgreSQL it is one tiny primary-key read per turn, shared by
 * all the requests of that turn, instead of the token and user lookups of each.
 */
import { sql, type Kysely } from 'kysely';
import type { ChangeSignal } from './change-signal.js';
import type { Database } from './schema.js';
import type { CredentialEpoch } from '../../services/identity.service.js';

export class DatabaseCredentialEpoch implements CredentialEpoch {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangeSignal;
  /** The change-signal version at which `#value` was read (before the read), for the SQLite shortcut. */
  #valueAt: number | undefined;
  #value = -1;
  #waiting: { resolve: (v: number) => void; reject: (e: unknown) => void }[] = [];
  readonly #flush = (): void => {
    const waiting = this.#waiting;
    this.#waiting = [];
    const at = this.#changes.current();
    sql<{ value: number | string }>`select value from credential_epoch where id = 1`.execute(this.#db).then(
      (r) => {
        const value = Number(r.rows[0]?.value ?? 0);
        if (at !== undefined) {
          this.#value = value;
          this.#valueAt = at;
        }
        for (const w of waiting) w.resolve(value);
      },
      (err: unknown) => {
        for (const w of waiting) w.reject(err);
      },
    );
  };

  constructor(db: Kysely<Database>, changes: ChangeSignal) {
    this.#db = db;
    this.#changes = changes;
  }

  current(): number | Promise<number> {
    const at = this.#changes.current();
    if (at !== undefined && at === this.#valueAt) return this.#value;
    return new Promise<number>((resolve, reject) => {
      if (this.#waiting.length === 0) setImmediate(this.#flush);
      this.#waiting.push({ resolve, reject });
    });
  }
}
