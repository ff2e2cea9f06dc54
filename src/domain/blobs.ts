/** The refusals of a blob store: thrown by storage, told apart by services (a 4xx for the client, not a 5xx). */

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`blob is larger than ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export class BlobDigestMismatchError extends Error {
  constructor(readonly expected: string, readonly actual: string) {
    super(`blob digest ${actual} does not match the expected ${expected}`);
    this.name = 'BlobDigestMismatchError';
  }
}

export const isSha256 = (s: string): boolean => /^[0-9a-f]{64}$/.test(s);
