/**
 * Remembers the answers of small reads for as long as the database has not changed (see `change-signal.ts`).
 *
 * An answer is stored with the version seen *before* it was read: a write that lands while the read is in flight
 * moves the version on, so that answer is never served. Where the database offers no signal (PostgreSQL), every
 * call reads. Answers — including "not found" — are shared between callers and must not be mutated.
 */
import { LRUCache } from 'lru-cache';
import type { ChangeSignal } from './ports.js';

interface Entry<V> {
  at: number;
  value: V;
}

export class FreshMemo<V> {
  readonly #signal: ChangeSignal;
  /** Least recently used out first: names asked for once (say, a scan of missing packages) age out first. */
  readonly #entries: LRUCache<string, Entry<V>>;

  constructor(signal: ChangeSignal, maxEntries = 10_000) {
    this.#signal = signal;
    this.#entries = new LRUCache({ max: maxEntries });
  }

  /** `stillValid`, when given, can retire a remembered answer that time alone made stale (an expiry passed). */
  async get(key: string, read: () => Promise<V>, stillValid?: (value: V) => boolean): Promise<V> {
    const at = this.#signal.current();
    if (at === undefined) return read();
    const hit = this.#entries.get(key);
    if (hit !== undefined && hit.at === at && (stillValid === undefined || stillValid(hit.value))) return hit.value;
    const value = await read();
    this.#entries.set(key, { at, value });
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}
