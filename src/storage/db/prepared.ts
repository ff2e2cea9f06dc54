/**
 * Queries built and compiled once, then only bound. Kysely builds and compiles a query's SQL on every call; on the
 * hot read paths (a packument, a 304, a tarball) that cost more CPU than running the queries. A `PreparedQuery` is
 * written with the query builder as usual, compiled once per database handle with placeholder values, and each call
 * substitutes the real values into the compiled parameter list. The SQL stays in the repository that owns it.
 */
import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Db } from './repositories/types.js';

const MARK = '\u0000wharf-param-';

interface Compiled {
  sql: string;
  /** For each compiled parameter: the index of the call's value, or a constant of the query itself. */
  slots: (number | { value: unknown })[];
}

export class PreparedQuery<P extends readonly unknown[], R> {
  readonly #build: (db: Kysely<Database>, ...params: P) => Compilable<R>;
  readonly #compiled = new WeakMap<object, Compiled>();

  constructor(build: (db: Kysely<Database>, ...params: P) => Compilable<R>) {
    this.#build = build;
  }

  #compile(db: Db, count: number): Compiled {
    const markers = Array.from({ length: count }, (_, i) => `${MARK}${i}`);
    const compiled = this.#build(db as Kysely<Database>, ...(markers as unknown as P)).compile();
    const slots = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(MARK) ? Number(p.slice(MARK.length)) : { value: p }));
    // Every value must travel as a bound parameter; one inlined into the SQL would be a bug here, not a speed-up.
    if (compiled.sql.includes(MARK) || markers.some((_, i) => !slots.includes(i))) {
      throw new Error('PreparedQuery: every parameter must be bound exactly as a query value');
    }
    return { sql: compiled.sql, slots };
  }

  async execute(db: Db, ...params: P): Promise<R[]> {
    let c = this.#compiled.get(db);
    if (!c) {
      c = this.#compile(db, params.length);
      this.#compiled.set(db, c);
    }
    const parameters = c.slots.map((s) => (typeof s === 'number' ? params[s] : s.value));
    return (await db.executeQuery<R>(CompiledQuery.raw(c.sql, parameters))).rows;
  }

  async first(db: Db, ...params: P): Promise<R | undefined> {
    return (await this.execute(db, ...params))[0];
  }
}
