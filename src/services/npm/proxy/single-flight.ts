/** One run of an operation per key at a time in this process: callers that arrive meanwhile share its outcome. */
export class SingleFlight<V> {
  readonly #running = new Map<string, Promise<V>>();

  run(key: string, work: () => Promise<V>): Promise<V> {
    const running = this.#running.get(key);
    if (running) return running;
    const started = (async () => work())();
    this.#running.set(key, started);
    const forget = (): void => void this.#running.delete(key);
    started.then(forget, forget);
    return started;
  }

  /** The run in progress for `key`, if any. */
  current(key: string): Promise<V> | undefined {
    return this.#running.get(key);
  }
}
