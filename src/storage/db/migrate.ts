/**
 * Runs the schema migrations. Kysely's Migrator takes a lock first (a lock row on SQLite, an advisory lock on
 * PostgreSQL), so several Wharf processes starting together on one database migrate it exactly once; the others
 * wait and then find nothing to do.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationResult } from 'kysely';
import type { DialectName } from './database.js';
import { migration001 } from './migrations/001-identity.js';
import { migration002 } from './migrations/002-packages.js';
import { migration003 } from './migrations/003-helm.js';
import { migration004 } from './migrations/004-web-sessions.js';
import { migration005 } from './migrations/005-faster-reads.js';
import { migration006 } from './migrations/006-package-protection.js';
import { migration007 } from './migrations/007-package-name-owners.js';
import { migration008 } from './migrations/008-audit-events.js';
import { migration009 } from './migrations/009-sign-in-throttle.js';
import { migration010 } from './migrations/010-npm-proxy.js';
import { migration011 } from './migrations/011-npm-proxy-misses.js';
import { migration012 } from './migrations/012-oci.js';
import { migration013 } from './migrations/013-registry-token-key.js';
import { migration014 } from './migrations/014-registry-signing-keys.js';
import { migration015 } from './migrations/015-trusted-publishers.js';
import { migration016 } from './migrations/016-npm-attestations.js';

export type DialectMigration = (dialect: DialectName) => Migration;

const MIGRATIONS: Record<string, DialectMigration> = {
  '001-identity': migration001,
  '002-packages': migration002,
  '003-helm': migration003,
  '004-web-sessions': migration004,
  '005-faster-reads': migration005,
  '006-package-protection': migration006,
  '007-package-name-owners': migration007,
  '008-audit-events': migration008,
  '009-sign-in-throttle': migration009,
  '010-npm-proxy': migration010,
  '011-npm-proxy-misses': migration011,
  '012-oci': migration012,
  '013-registry-token-key': migration013,
  '014-registry-signing-keys': migration014,
  '015-trusted-publishers': migration015,
  '016-npm-attestations': migration016,
};

export interface MigrateOutcome {
  applied: string[];
}

export async function migrateToLatest(db: Kysely<any>, dialect: DialectName): Promise<MigrateOutcome> {
  // On PostgreSQL, Kysely looks for its bookkeeping tables in every schema unless told which one; another Wharf (or
  // another test run) in a sibling schema of the same database would make it skip creating its own. Pin it to the
  // schema this connection works in (the first one on its search_path).
  const migrationTableSchema =
    dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined;
  const migrator = new Migrator({
    db,
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
    provider: {
      getMigrations: async () =>
        Object.fromEntries(Object.entries(MIGRATIONS).map(([name, make]) => [name, make(dialect)])),
    },
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely's migrator lists the tables of *every* schema to find its own; a sibling schema dropped at that moment
  // (another install's clean-up, a parallel test run) fails the listing with "schema … does not exist" (3F000), or,
  // when its tables or columns go while they are being listed, "relation/column … does not exist" (42P01, 42703).
  // Only a failure of that listing is retried (no migration ran: `results` names none that failed); nothing has been
  // applied at that point, and migrating is idempotent: try again.
  for (let attempt = 1; error && isListingRace(error, results) && attempt < 5; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results?.find((r: MigrationResult) => r.status === 'Error');
    const cause = error instanceof Error ? error : new Error(String(error));
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${cause.message}`, { cause });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/** Catalogue objects that vanished under the migrator's listing of every schema (see `migrateToLatest`). */
const VANISHED = new Set(['3F000', '42P01', '42703']);

const isListingRace = (error: unknown, results: readonly MigrationResult[] | undefined): boolean =>
  VANISHED.has(String((error as { code?: unknown } | null)?.code)) && !(results ?? []).some((r) => r.status === 'Error');
