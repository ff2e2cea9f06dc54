/**
 * A built packument as the per-process document caches hold it, local (`metadata.service.ts`) and proxied
 * (`proxy/packuments.ts`) alike, and the bytes sent for it: plain, or gzip-compressed once and kept on the entry.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { PackumentKind, Representation } from './metadata.service.js';

const gzip = promisify(gzipCallback);

/** Below this, gzip saves less than it costs (and a small response fits one packet anyway). */
const GZIP_MIN_BYTES = 1024;

export interface PackumentEntry {
  key: string;
  revision: number;
  builtFor: string;
  modified: string;
  versionCount: number;
  full: Buffer;
  abbreviated: Buffer;
  gzipped: Partial<Record<PackumentKind, Buffer>>;
  /** Plain and gzip bytes together: what the engine's bound counts. */
  bytes: number;
}

/**
 * The `kind` document of `entry`, with strong ETags derived from `tag` (`"<tag>-f"`, `"<tag>-a"`, and `-gz` for the
 * compressed bytes). `grown` is told when the entry got bigger, so the cache holding it can count the new bytes.
 */
export async function representationOf(
  entry: PackumentEntry,
  kind: PackumentKind,
  acceptsGzip: boolean,
  tag: string,
  grown: () => void,
): Promise<Representation> {
  const letter = kind === 'full' ? 'f' : 'a';
  const plain = entry[kind];
  if (!acceptsGzip || plain.length < GZIP_MIN_BYTES) return { body: plain, etag: `"${tag}-${letter}"`, encoding: undefined };
  let packed = entry.gzipped[kind];
  if (!packed) {
    packed = await gzip(plain);
    // Two readers may have compressed at once: the first one to finish is kept and counted.
    if (entry.gzipped[kind]) packed = entry.gzipped[kind];
    else {
      entry.gzipped[kind] = packed;
      entry.bytes += packed.length;
      grown();
    }
  }
  return { body: packed, etag: `"${tag}-${letter}-gz"`, encoding: 'gzip' };
}
