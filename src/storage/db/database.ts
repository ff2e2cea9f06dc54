/**
 * Opens the database named by the configuration: the embedded SQLite file (WAL) by default, PostgreSQL for
 * `postgres://` URLs. Only this module and the migrations know which dialect is in use.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { NO_CHANGE_SIGNAL, SqliteChangeSignal, type ChangeSignal } from './change-signal.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Human-readable location without credentials, for logs. */
  readonly location: string;
  /** Tells whether anything was written since a read, without a query (SQLite only; see `change-signal.ts`). */
  readonly changes: ChangeSignal;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
}

/** The embedded default never loads the PostgreSQL driver (some 10 MB of a small server's memory). */
export async function openDatabase(options: OpenOptions): Promise<DatabaseHandle> {
  const url = options.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    const { default: pg } = await import('pg');
    // PostgreSQL's int8 (count(*), sums) arrives as a string by default; our counts fit in a double.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle client that loses its server must not crash the process; the next query reports the problem.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const safe = new URL(url);
    safe.password = '';
    return { db, dialect: 'postgres', location: safe.toString(), changes: NO_CHANGE_SIGNAL, close: () => db.destroy() };
  }
  const file = url?.startsWith('sqlite:') ? path.resolve(url.slice('sqlite:'.length)) : path.join(options.dataDir, 'wharf.db');
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL is durable across process crashes; fsync happens at checkpoints. Good enough for metadata whose
  // blobs are fsynced separately; an acknowledged write survives a crash of Wharf itself.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const changes = new SqliteChangeSignal(sqlite.prepare('PRAGMA data_version').pluck());
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, STATEMENT_CACHE_SIZE, () => changes.noteWrite()) }) });
  return { db, dialect: 'sqlite', location: file, changes, close: () => db.destroy() };
}

/** Kysely's SQLite driver needs only these two methods of better-sqlite3's database. */
type SqliteDatabase = Pick<SQLite.Database, 'prepare' | 'close'>;
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every statement anew on each query; on the hot read paths that preparation cost more CPU than
 * running the queries (profile of the 304 path: a fifth of all time). The SQL text of Kysely's queries is stable
 * (values are bound parameters), so compiled statements are kept by their text, least recently used out first. A
 * statement still busy (an unfinished iteration) is never handed out twice: a fresh one is prepared instead.
 *
 * Kysely runs a statement right after preparing it, so `onWrite` is told here about every statement that is not a
 * plain read — writes, and the BEGIN/COMMIT/ROLLBACK around them — before it runs (see `change-signal.ts`).
 */
export function withStatementCache(sqlite: SQLite.Database, size = STATEMENT_CACHE_SIZE, onWrite: () => void = () => undefined): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  const noteWrites = (statement: SQLite.Statement) => {
    if (!(statement.reader && statement.readonly)) onWrite();
    return statement;
  };
  return {
    prepare(source: string) {
      const hit = cache.get(source);
      if (hit && !hit.busy) {
        cache.delete(source);
        cache.set(source, hit);
        return noteWrites(hit);
      }
      const statement = sqlite.prepare(source);
      if (!hit) {
        cache.set(source, statement);
        if (cache.size > size) cache.delete(cache.keys().next().value!);
      }
      return noteWrites(statement);
    },
    close() {
      cache.clear();
      return sqlite.close();
    },
  } as SqliteDatabase;
}
