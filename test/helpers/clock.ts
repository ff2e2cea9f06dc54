/** The test clock on its own, so that tests which start no app (the service tier) need not load one. */
import type { Clock } from '../../src/domain/clock.js';

/** A fixed clock that tests can move. */
export class TestClock implements Clock {
  #now: number;
  constructor(start = '2026-06-01T12:00:00.000Z') {
    this.#now = Date.parse(start);
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}
