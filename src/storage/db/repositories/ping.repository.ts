/** The trivial query behind readiness (`services/health.service.ts`). */
import { sql } from 'kysely';
import type { Db } from './types.js';

export class PingRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }
}
