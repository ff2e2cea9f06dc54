/**
 * "Has anything been written to the database since?" answered without a query, where the database allows it.
 *
 * The hot reads (a project by id, a packument's revision, a missing name, a tarball's file row) are tiny indexed
 * queries, yet on the embedded SQLite each costs more CPU than the rest of a `304` or `404`: Kysely's executor, the
 * connection mutex and the statement itself. SQLite can tell cheaply whether the file changed: writes through our
 * own connection are seen as they are prepared, and `PRAGMA data_version` (a counter read from the connection's
 * shared-memory header, no table access) changes when any *other* connection or process commits — `wharf gc`, the
 * CLI, a backup restore. A read remembered at version N is therefore still current while the version is N.
 *
 * PostgreSQL has no such signal that is synchronous with other instances' commits (LISTEN/NOTIFY arrives after the
 * writer's response, so a read right after a publish elsewhere could miss it). There every read asks the database,
 * as before; `current()` answers undefined.
 */
import type { ChangeSignal } from '../../services/ports.js';

// The interface is the services' port (`services/ports.ts`); storage implements it.
export type { ChangeSignal };

export const NO_CHANGE_SIGNAL: ChangeSignal = { current: () => undefined };

/** The subset of a better-sqlite3 statement this module needs. */
interface PragmaStatement {
  get(): unknown;
}

/**
 * Other connections' commits are looked for at most once per turn of the event loop: the pragma is a statement
 * step (several µs), and requests handled in the same turn are concurrent anyway — a commit elsewhere cannot be
 * ordered before one of them but after another. Our own writes are counted at once, whatever the turn.
 */
export class SqliteChangeSignal implements ChangeSignal {
  readonly #dataVersion: PragmaStatement;
  #lastDataVersion: unknown;
  #version = 0;
  #checkedThisTurn = false;
  readonly #newTurn = (): void => {
    this.#checkedThisTurn = false;
  };

  /** `dataVersion` must be `PRAGMA data_version` prepared (with `.pluck()`) on the connection the app uses. */
  constructor(dataVersion: PragmaStatement) {
    this.#dataVersion = dataVersion;
    this.#lastDataVersion = dataVersion.get();
  }

  /** A statement that may write (or end a transaction) is about to run on our connection. */
  noteWrite(): void {
    this.#version++;
  }

  current(): number {
    if (!this.#checkedThisTurn) {
      this.#checkedThisTurn = true;
      setImmediate(this.#newTurn);
      const dv = this.#dataVersion.get();
      if (dv !== this.#lastDataVersion) {
        this.#lastDataVersion = dv;
        this.#version++;
      }
    }
    return this.#version;
  }
}
