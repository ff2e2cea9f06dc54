/**
 * Verifying a tarball while it streams: the bytes are hashed as they pass, and the last chunk is held back until
 * the digest is known. On a mismatch (or too many bytes) the stream fails instead of ending, so neither the client
 * (whose response is then cut short) nor the blob store (whose upload is then discarded) ever has the whole
 * wrong file.
 */
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { ExpectedDigest } from '../../../domain/npm/proxy.js';

export class IntegrityError extends Error {
  constructor(readonly expected: string, readonly actual: string) {
    super(`the upstream tarball does not match its integrity: expected ${expected}, got ${actual}`);
    this.name = 'IntegrityError';
  }
}

export class TarballTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the upstream tarball is larger than ${limit} bytes`);
    this.name = 'TarballTooLargeError';
  }
}

export class VerifyingStream extends Transform {
  readonly #hash: Hash;
  readonly #expected: ExpectedDigest;
  readonly #maxBytes: number;
  #held: Buffer | undefined;
  #bytes = 0;

  constructor(expected: ExpectedDigest, maxBytes: number) {
    super();
    this.#expected = expected;
    this.#maxBytes = maxBytes;
    this.#hash = createHash(expected.algorithm);
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) return callback(new TarballTooLargeError(this.#maxBytes));
    this.#hash.update(chunk);
    const previous = this.#held;
    this.#held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.#hash.digest('base64');
    if (actual !== this.#expected.base64) return callback(new IntegrityError(this.#expected.sri, `${this.#expected.algorithm}-${actual}`));
    callback(null, this.#held);
  }
}

/**
 * Feeds `source` to two readers: the blob store (which must get every byte) and the client (which may go away; it
 * then simply stops being fed). The slower one sets the pace. An error of the source fails both; the client's
 * side with `clientError(err)`, so a failure before any byte was sent is answered with a refusal, not a 500.
 */
export function tee(source: Readable, clientError: (err: Error) => unknown = (err) => err): { store: PassThrough; client: PassThrough } {
  const store = new PassThrough();
  const client = new PassThrough();
  let clientGone = false;
  client.on('close', () => {
    clientGone = true;
  });
  // Errors of the client side (a dropped connection) are the client's business only; the store's reader may not be
  // listening yet when the source fails (it attaches after its own set-up), and finds the stream destroyed then.
  client.on('error', () => undefined);
  store.on('error', () => undefined);
  source.on('data', (chunk: Buffer) => {
    const storeFull = !store.write(chunk);
    const clientFull = !clientGone && !client.write(chunk);
    if (storeFull || clientFull) {
      source.pause();
      let waiting = (storeFull ? 1 : 0) + (clientFull ? 1 : 0);
      const resume = () => {
        if (--waiting === 0) source.resume();
      };
      if (storeFull) store.once('drain', resume);
      if (clientFull) {
        const done = () => {
          client.off('drain', done);
          client.off('close', done);
          resume();
        };
        client.on('drain', done);
        client.on('close', done);
      }
    }
  });
  source.on('end', () => {
    store.end();
    if (!clientGone) client.end();
  });
  source.on('error', (err) => {
    store.destroy(err);
    client.destroy(clientError(err) as Error);
  });
  return { store, client };
}
