/**
 * Hits on cached proxy rows, counted in memory and written at most once per interval per row: a write moves the
 * database's change signal (on SQLite it empties every per-process cache), so one per request would cost more than
 * the cache saves. A row first used in this process counts as last written when its row says it was used, so its
 * recorded `last_used_at` (what `wharf gc` evicts by) is never more than one interval behind its last use, across
 * restarts too. Hits still pending when a process stops are lost (docs/npm-proxy.md says so).
 */
export class UseCounter {
  readonly #intervalMs: number;
  readonly #uses = new Map<string, { pending: number; flushedAt: number }>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Counts one use of the row `key` (last recorded at `lastUsedAt`) at `nowMs`; returns the hits to write with
   * `nowMs` as the new `last_used_at` when the interval has passed, else undefined.
   */
  note(key: string, lastUsedAt: string, nowMs: number): number | undefined {
    let use = this.#uses.get(key);
    if (!use) {
      // Bounded: past this many rows in one process the pending counts are dropped (a lower bound is all they are).
      if (this.#uses.size > 100_000) this.#uses.clear();
      use = { pending: 0, flushedAt: Date.parse(lastUsedAt) || 0 };
      this.#uses.set(key, use);
    }
    use.pending++;
    if (nowMs - use.flushedAt < this.#intervalMs) return undefined;
    const hits = use.pending;
    use.pending = 0;
    use.flushedAt = nowMs;
    return hits;
  }
}
