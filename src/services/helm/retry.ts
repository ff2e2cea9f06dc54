/**
 * Runs a transaction again when the database refused it for a reason a retry cures: a deadlock or serialisation
 * failure on PostgreSQL, a busy SQLite file, or a unique violation from a concurrent writer that committed first
 * (the retry then sees its row and takes the other branch).
 */
import type { UniqueViolations } from '../ports.js';

const RETRYABLE_CODES = new Set(['40P01', '40001', 'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']);

/** `violations`: the store that writes, which knows what its driver's unique violations look like. */
export async function withRetry<T>(violations: UniqueViolations, run: () => Promise<T>, attempts = 5): Promise<T> {
  const retryable = (err: unknown): boolean =>
    violations.isUniqueViolation(err) || RETRYABLE_CODES.has(String((err as { code?: unknown } | null)?.code ?? ''));
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
      // A little jitter so two writers that collided do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 10 * attempt)));
    }
  }
}
