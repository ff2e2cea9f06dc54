import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** A connection or an open transaction: every repository method accepts either. */
export type Db = Kysely<Database> | Transaction<Database>;

import type { Page, PageOf } from '../../../domain/records.js';
export type { Page, PageOf };

export const offsetOf = (p: Page): number => (p.page - 1) * p.perPage;

/** Unique-constraint violations look different per driver; services only need to know it was one. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Escapes `%`, `_` and `\` for a LIKE pattern used with `escape '\'`. */
export const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);
