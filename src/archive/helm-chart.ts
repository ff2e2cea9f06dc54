/**
 * Reads an uploaded chart archive (`.tgz`) as it streams in, without writing any of it to disk, and returns its
 * `Chart.yaml`. Every limit lives here:
 *
 * - the archive must be gzip (Helm's loader and GitLab both require it) holding a tar, with no second compression
 *   layer inside (which `tar`'s parser would otherwise sniff and inflate again);
 * - decompressed bytes are counted as they come out of zlib and the read stops at `maxDecompressedBytes` (a gzip
 *   bomb of a few KB can expand to gigabytes); a single entry may not exceed `maxEntryBytes` (Helm's own loader
 *   refuses both past 100 MiB / 5 MiB, so such a chart could never be installed anyway);
 * - every entry must be a regular file or a directory below one top-level directory: links, devices, absolute
 *   paths, `..` segments and Windows drive paths are refused (Helm's loader refuses the same);
 * - `Chart.yaml` must sit directly in the top-level directory (`mychart/Chart.yaml`, or `./Chart.yaml` as
 *   `tar -C mychart .` writes it; Helm strips the first path component whatever it is), at most 1 MB.
 *
 * The whole archive is read, not just up to `Chart.yaml`, so that a hostile entry after it is still refused.
 */
import { Writable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { errors, type AppError } from '../domain/errors.js';
import { MAX_CHART_YAML_BYTES } from '../domain/helm/chart-yaml.js';

export interface ChartArchiveLimits {
  /** Largest archive accepted, in compressed bytes (the `helm_max_file_size` setting). */
  maxArchiveBytes: number;
  /** Most bytes the archive may expand to. */
  maxDecompressedBytes: number;
  /** Largest single entry. */
  maxEntryBytes: number;
  /** Largest `Chart.yaml` (GitLab: 1 MB). */
  maxChartYamlBytes: number;
}

export const DEFAULT_CHART_LIMITS: Readonly<ChartArchiveLimits> = Object.freeze({
  maxArchiveBytes: 5 * 1024 * 1024,
  maxDecompressedBytes: 100 * 1024 * 1024,
  maxEntryBytes: 5 * 1024 * 1024,
  maxChartYamlBytes: MAX_CHART_YAML_BYTES,
});

export interface ChartArchive {
  /** The raw bytes of `<dir>/Chart.yaml`. */
  chartYaml: Buffer;
  /** The top-level directory it was found in. */
  directory: string;
}

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const MiB = 1024 * 1024;
const size = (n: number): string => (n % MiB === 0 ? `${n / MiB} MiB` : `${n} bytes`);

const bad = (reason: string): AppError => errors.helmChartInvalid(reason);
const NOT_FOUND = 'Chart.yaml not found within a directory';

/** Regular files; `OldFile` and `ContiguousFile` are old spellings of the same thing. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

interface EntryPath {
  /** The first path component, whatever it is (Helm strips it unseen; `.` when the archive was made with `-C dir .`). */
  top: string;
  /** The rest, without empty and `.` segments. */
  rest: string[];
}

/**
 * The entry's path split as Helm's loader splits it, or an error when it could escape the chart directory.
 * Helm splits on backslashes instead of slashes as soon as a name holds one (archives made on Windows); a name
 * holding both would be read differently by Helm (`demo/x\\Chart.yaml` is its `Chart.yaml`) and by anyone
 * splitting on both, so it is refused.
 */
function pathOf(path: string): EntryPath | AppError {
  if (path.includes('\\') && path.includes('/')) return bad(`Chart archive contains a path mixing / and \\ separators: ${path}`);
  const normal = path.replace(/\\/g, '/');
  if (normal.startsWith('/') || /^[a-zA-Z]:/.test(normal) || normal.includes('\0')) {
    return bad(`Chart archive contains an absolute path: ${path}`);
  }
  const [top = '', ...more] = normal.split('/');
  // `demo//x` is `/x` to Helm once the first component is gone: an absolute path it refuses.
  if (more[0] === '' && more.length > 1) return bad(`Chart archive contains an absolute path: ${path}`);
  const rest = more.filter((s) => s !== '' && s !== '.');
  if (top === '..' || rest.includes('..')) return bad(`Chart archive contains a path leaving the chart directory: ${path}`);
  // Windows drive letters can also appear after the first component (`chart/C:/x`), as Helm's loader notes.
  if (rest.some((s) => /^[a-zA-Z]:$/.test(s))) return bad(`Chart archive contains an absolute path: ${path}`);
  return { top, rest };
}

/**
 * A writable that accepts the archive's bytes and settles `result` once it has seen them all (or at the first
 * problem, after which further writes are swallowed). The caller may feed it from a tee while the same bytes go
 * to storage.
 */
export function chartArchiveReader(limits: ChartArchiveLimits = DEFAULT_CHART_LIMITS): { writable: Writable; result: Promise<ChartArchive> } {
  let settle!: { resolve: (a: ChartArchive) => void; reject: (e: unknown) => void };
  const result = new Promise<ChartArchive>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Callers may not await `result` until the upload has ended; never let an early refusal count as unhandled.
  result.catch(() => undefined);

  let failed = false;
  let compressed = 0;
  let decompressed = 0;
  let head = Buffer.alloc(0);
  let innerChecked = false;
  let chartYaml: Buffer | undefined;
  let directory: string | undefined;
  let pendingEntries = 0;
  /** Helm drops the first path component of every entry, whatever it is: all entries must share one. */
  let topDirectory: string | undefined;
  /** Paths as Helm names the files it loads; a second file under one name would silently replace (or merge into) the first. */
  const loaded = new Set<string>();
  let parserEnded = false;
  let tarEnded = false;

  const gunzip: Gunzip = createGunzip();
  const parser = new Parser({ strict: true, maxMetaEntrySize: 64 * 1024 });

  /** A write waiting for zlib to drain; released on failure too, so whoever feeds us never stalls. */
  let waiting: (() => void) | undefined;
  const release = (): void => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };

  const fail = (err: unknown): void => {
    if (failed) return;
    failed = true;
    release();
    gunzip.destroy();
    parser.abort(err instanceof Error ? err : new Error(String(err)));
    settle.reject(err);
  };

  const finishIfDone = (): void => {
    if (failed || !parserEnded || pendingEntries > 0) return;
    if (!chartYaml || directory === undefined) return fail(bad(NOT_FOUND));
    settle.resolve({ chartYaml, directory });
  };

  parser.on('error', (err: Error) => {
    if (failed) return;
    fail(bad(`Chart archive is not a valid tar archive (${err.message})`));
  });
  parser.on('eof', () => {
    tarEnded = true;
  });
  parser.on('end', () => {
    parserEnded = true;
    finishIfDone();
  });
  parser.on('entry', (entry: ReadEntry) => {
    if (failed) {
      entry.resume();
      return;
    }
    const problem = checkEntry(entry);
    if (problem) {
      entry.resume();
      return fail(problem);
    }
    const { top, rest } = pathOf(entry.path) as EntryPath;
    if (entry.type === 'Directory' || rest.length !== 1 || rest[0] !== 'Chart.yaml') {
      entry.resume();
      return;
    }
    if (chartYaml !== undefined) {
      entry.resume();
      return fail(bad('Chart archive holds more than one chart directory with a Chart.yaml'));
    }
    if (entry.size > limits.maxChartYamlBytes) {
      entry.resume();
      return fail(bad('Chart.yaml too big'));
    }
    const chunks: Buffer[] = [];
    pendingEntries++;
    entry.on('data', (c: Buffer) => chunks.push(c));
    entry.on('end', () => {
      pendingEntries--;
      chartYaml = Buffer.concat(chunks);
      directory = top;
      finishIfDone();
    });
  });

  /** The refusal for an entry outside the archive's one top-level directory (the first entry's). */
  function otherTop(top: string): AppError | undefined {
    if (topDirectory === undefined) topDirectory = top;
    if (top === topDirectory) return undefined;
    return bad(
      `Chart archive holds more than one top-level directory ("${topDirectory}" and "${top}"); Helm strips the first ` +
        'path component of every entry and would load the files of both as one chart',
    );
  }

  /** Why an entry is refused, if it is. */
  function checkEntry(entry: ReadEntry): AppError | undefined {
    const path = pathOf(entry.path);
    if (!('rest' in path)) return path;
    if (entry.type === 'Directory') return otherTop(path.top);
    if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
      return bad(`Chart archive contains a link, which charts may not hold: ${entry.path}`);
    }
    if (!FILE_TYPES.has(entry.type)) {
      return bad(`Chart archive contains ${entry.path}, which is neither a file nor a directory (${entry.type})`);
    }
    if (path.rest.length === 0) {
      // GitLab's own words for the commonest case; Helm refuses any file outside the chart directory.
      return bad(path.top === 'Chart.yaml' ? NOT_FOUND : `Chart archive contains a file outside the chart directory: ${entry.path}`);
    }
    const elsewhere = otherTop(path.top);
    if (elsewhere) return elsewhere;
    if ((entry.size ?? 0) > limits.maxEntryBytes) {
      return bad(`Chart archive entry ${entry.path} is larger than ${size(limits.maxEntryBytes)}`);
    }
    const name = path.rest.join('/');
    if (loaded.has(name)) {
      return bad(`Chart archive holds ${name} more than once (${entry.path}); Helm would load both and keep the last`);
    }
    loaded.add(name);
    return undefined;
  }

  gunzip.on('data', (chunk: Buffer) => {
    if (failed) return;
    decompressed += chunk.length;
    if (decompressed > limits.maxDecompressedBytes) {
      return fail(bad(`Chart archive expands to more than ${size(limits.maxDecompressedBytes)}`));
    }
    if (!innerChecked) {
      innerChecked = true;
      // A tar header starts with a file name; gzip or zstd magic here means a compressed file inside a
      // compressed file, which the tar parser would inflate again without our byte counting.
      if ((chunk[0] === 0x1f && chunk[1] === 0x8b) || (chunk[0] === 0x28 && chunk[1] === 0xb5 && chunk[2] === 0x2f)) {
        return fail(bad('Chart archive is compressed twice'));
      }
    }
    // Every entry is consumed as it arrives (resumed or collected), so the parser never holds more than a block;
    // its return value needs no backpressure. After the end-of-archive marker it would buffer whatever follows,
    // so trailing bytes are only counted: a bomb hidden after the marker still hits the expansion limit.
    if (!tarEnded) parser.write(chunk);
  });
  gunzip.on('end', () => {
    if (!failed) parser.end();
  });
  gunzip.on('error', (err: Error) => {
    if (failed) return;
    fail(bad(`Chart archive is not a valid gzip file (${err.message})`));
  });

  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (failed) return callback();
      compressed += chunk.length;
      if (compressed > limits.maxArchiveBytes) {
        fail(bad('File is too large'));
        return callback();
      }
      if (head.length < GZIP_MAGIC.length) {
        head = Buffer.concat([head, chunk.subarray(0, GZIP_MAGIC.length - head.length)]);
        if (GZIP_MAGIC.some((b, i) => i < head.length && head[i] !== b)) {
          fail(bad('Chart archive is not a gzip-compressed tar file (helm package makes one)'));
          return callback();
        }
      }
      if (gunzip.write(chunk)) return callback();
      waiting = callback;
      gunzip.once('drain', release);
    },
    final(callback) {
      if (!failed) {
        if (compressed === 0) fail(bad('Chart archive is empty'));
        else if (head.length < GZIP_MAGIC.length) fail(bad('Chart archive is not a gzip-compressed tar file (helm package makes one)'));
        else gunzip.end();
      }
      callback();
    },
  });
  // A refused archive keeps accepting (and dropping) bytes, so a tee feeding it never stalls; the caller learns of
  // the refusal through `result` and decides whether to stop the upload.
  return { writable, result };
}

/** Reads a whole archive from a buffer or stream; resolves with its `Chart.yaml` or rejects with a 400 `AppError`. */
export async function readChartArchive(source: Buffer | NodeJS.ReadableStream, limits: ChartArchiveLimits = DEFAULT_CHART_LIMITS): Promise<ChartArchive> {
  const { writable, result } = chartArchiveReader(limits);
  if (Buffer.isBuffer(source)) {
    writable.end(source);
  } else {
    source.on('error', (err) => writable.destroy(err));
    source.pipe(writable);
  }
  return result;
}
