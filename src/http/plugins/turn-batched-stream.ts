/**
 * Log text gathered over one turn of the event loop and handed to the destination in one write.
 *
 * Why: sonic-boom (pino's destination) measures the byte length of its pending chunk on every write, which
 * flattens that growing string each time; with one access line per request this cost ~2 µs per line — more than
 * building the line, and a tenth of a `304`. Requests answered in the same turn now cost it one write together.
 * Order is kept: pino's own lines and access lines go through the same batch. Nothing waits longer than the turn
 * it was written in before reaching the destination, which keeps its own batching and flushing.
 */
import type { DestinationStream } from 'pino';

export interface FlushableDestination extends DestinationStream {
  flush(): void;
  flushSync(): void;
}

export class TurnBatchedStream implements FlushableDestination {
  readonly #destination: FlushableDestination;
  #pending = '';
  #scheduled = false;
  readonly #drain = (): void => {
    this.#scheduled = false;
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.#destination.write(text);
  };

  constructor(destination: FlushableDestination) {
    this.#destination = destination;
  }

  write(text: string): void {
    this.#pending += text;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  flush(): void {
    this.#drain();
    this.#destination.flush();
  }

  /** Everything written so far reaches the destination's file descriptor before this returns. */
  flushSync(): void {
    this.#drain();
    this.#destination.flushSync();
  }
}
