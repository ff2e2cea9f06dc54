/**
 * Ports every service may use: what a service needs from the database in general, declared here by the consumer
 * and implemented by storage (structurally: `Kysely` and its transactions fit without knowing these types). The
 * ports of one service (what it reads and writes) are declared next to that service.
 */

/**
 * An open connection or transaction, opaque to services: they only hand it back to the ports they were given, so a
 * service can run several port calls in one transaction without seeing SQL.
 */
export type Executor = object;

/** The database as a source of transactions: `db.transaction().execute(work)`, as Kysely spells it. */
export interface Connection {
  transaction(): { execute<T>(work: (trx: Executor) => Promise<T>): Promise<T> };
}

/**
 * "Has anything been written to the database since?" answered without a query, where the database allows it
 * (`storage/db/change-signal.ts` explains how, and why PostgreSQL answers undefined).
 */
export interface ChangeSignal {
  /**
   * A number that differs from every earlier answer once anything was written, or undefined when this database
   * offers no cheap signal and each read must ask it.
   */
  current(): number | undefined;
}

/** Unique-constraint violations look different per driver; the port that writes says whether an error was one. */
export interface UniqueViolations {
  isUniqueViolation(err: unknown): boolean;
}
