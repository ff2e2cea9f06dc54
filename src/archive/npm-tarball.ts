/**
 * Reads a published npm tarball in memory, without extracting anything, and refuses what an installer should
 * never be handed: not gzip, corrupt or truncated data, decompression bombs, entries that escape the package
 * directory or are links or devices, and a missing or oversized `package.json`.
 *
 * It also refuses every layout in which npm would install something other than what Wharf reads. npm (pacote,
 * `tar` with `strip: 1`) drops the first path component of EVERY entry, whatever it is, so `package/package.json`
 * and `zzz/package.json` both land as `package.json` and the later one wins. Hence: one top-level directory for
 * all entries (npm packs `package/`; any single name is accepted, as npm accepts it), nothing at the root, no
 * empty or `.` segments (tar collapses them: `package//package.json` becomes `package.json`), and no two entries
 * that land on the same file once stripped, compared as a case-insensitive, Unicode-normalising file system
 * (macOS, Windows) would compare them. Links are refused outright. The `package.json` read here is therefore the
 * only one an installer can see.
 *
 * The gzip layer is decompressed here (not inside tar's parser) so the output can be counted and cut off the
 * moment it passes a limit; `tar`'s `Parser` (npm's own, strict mode) then reads the plain tar stream.
 */
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { errors } from '../domain/errors.js';
import type { TarballFacts } from '../domain/npm/manifest.js';

export interface NpmTarballLimits {
  /** Total bytes the archive may unpack to (entry contents and tar headers). */
  readonly maxUnpackedBytes: number;
  /** Largest accepted unpacked/packed ratio once the output passes `ratioFloorBytes`. */
  readonly maxRatio: number;
  /** Below this much output the ratio is not checked: a tiny file of zeros is harmless, however well it packs. */
  readonly ratioFloorBytes: number;
  /** GitLab's `ProcessPackageFileService::MAX_FILE_SIZE`. */
  readonly maxPackageJsonBytes: number;
  readonly maxEntries: number;
  /** Longest entry path: PATH_MAX; nothing an installer could write is longer. */
  readonly maxPathLength: number;
  /** Total length of all entry paths (they are kept to detect collisions and to expand `directories.bin`). */
  readonly maxTotalPathLength: number;
}

export const DEFAULT_NPM_TARBALL_LIMITS: NpmTarballLimits = Object.freeze({
  maxUnpackedBytes: 1024 * 1024 * 1024,
  // Real packages pack 3–20:1; a stream of zeros packs about 1000:1.
  maxRatio: 250,
  ratioFloorBytes: 16 * 1024 * 1024,
  maxPackageJsonBytes: 4 * 1024 * 1024,
  maxEntries: 100_000,
  maxPathLength: 4096,
  maxTotalPathLength: 32 * 1024 * 1024,
});

export interface NpmTarballInspection extends TarballFacts {
  /** Regular files, as npm's `dist.fileCount`. */
  readonly fileCount: number;
  /** Their total size, as npm's `dist.unpackedSize`. */
  readonly unpackedSize: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const INPUT_CHUNK = 64 * 1024;

const invalid = (detail: string) => errors.npmPackageFileInvalid(`Invalid package file: ${detail}`);

interface EntryPath {
  /** The first path component, which npm strips. */
  readonly top: string;
  /** The path below it: where the entry lands in the installed package. */
  readonly rest: readonly string[];
}

/**
 * Splits an entry path as npm's extractor will see it, refusing anything whose landing place is not plain.
 * Backslashes count as separators: tar on Windows turns them into `/` before stripping.
 */
function entryPathOf(raw: string, isDirectory: boolean, limits: NpmTarballLimits): EntryPath {
  if (raw.length > limits.maxPathLength) throw invalid(`an entry path is longer than ${limits.maxPathLength} characters.`);
  if (raw.includes('\0')) throw invalid(`entry "${raw}" has a NUL character in its path.`);
  let p = raw.replace(/\\/g, '/');
  if (isDirectory) p = p.replace(/\/+$/, '');
  if (p.startsWith('/') || /^[a-zA-Z]:/.test(p)) throw invalid(`entry "${raw}" has an absolute path.`);
  const [top = '', ...rest] = p.split('/');
  if (top === '..' || rest.includes('..')) throw invalid(`entry "${raw}" points outside the package directory.`);
  if (top === '' || top === '.') {
    throw invalid(`entry "${raw}" is not inside a named top-level directory (npm strips the first path component of every entry; pack into package/).`);
  }
  if (rest.some((s) => s === '' || s === '.')) throw invalid(`entry "${raw}" has an empty or "." path segment, which extraction would collapse.`);
  // After stripping, `package/C:/x` would be an absolute Windows path that tar reduces to `x`.
  if (rest.some((s) => /^[a-zA-Z]:/.test(s))) throw invalid(`entry "${raw}" has an absolute path.`);
  if (rest.length === 0 && !isDirectory) throw invalid(`entry "${raw}" is at the root of the archive, outside the package directory.`);
  return { top, rest };
}

/**
 * Where an entry lands on a case-insensitive, normalising file system: Unicode NFC (macOS), case folded, and
 * trailing dots and spaces dropped (Windows). Two entries with one key would overwrite each other somewhere.
 */
const landingKey = (rest: readonly string[]): string =>
  rest.map((s) => s.normalize('NFC').toLowerCase().replace(/[. ]+$/, '') || s).join('/');

export function inspectNpmTarball(bytes: Buffer, limits: NpmTarballLimits = DEFAULT_NPM_TARBALL_LIMITS): Promise<NpmTarballInspection> {
  if (bytes.length < 2 || bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) {
    return Promise.reject(invalid('the attachment is not a gzip-compressed tarball.'));
  }

  return new Promise<NpmTarballInspection>((resolve, reject) => {
    let settled = false;
    let manifestText: string | undefined;
    let topDirectory: string | undefined;
    let fileCount = 0;
    let unpackedSize = 0;
    let entries = 0;
    let pathTotal = 0;
    let hasGypFile = false;
    let hasServerJs = false;
    let hasShrinkwrap = false;
    const files: string[] = [];
    /** Landing key → what lies there, and the entry that put it there (for the message). */
    const landed = new Map<string, { kind: 'file' | 'directory'; raw: string }>();
    let output = 0;

    const gunzip = createGunzip();
    const parser = new Parser({ strict: true });

    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      parser.abort(new Error('inspection stopped'));
      reject(err);
    };

    /** Records where an entry lands; two entries landing on one file (or a file where a directory is) are refused. */
    const land = (rest: readonly string[], kind: 'file' | 'directory', raw: string) => {
      for (let depth = 1; depth <= rest.length; depth++) {
        const key = landingKey(rest.slice(0, depth));
        const here: 'file' | 'directory' = depth === rest.length ? kind : 'directory';
        const before = landed.get(key);
        if (!before) {
          landed.set(key, { kind: here, raw });
          continue;
        }
        if (before.kind === 'directory' && here === 'directory') continue;
        if (key === 'package.json') {
          throw invalid(`${topDirectory ?? 'package'}/package.json appears more than once ("${before.raw}" and "${raw}"); npm would install only the last.`);
        }
        throw invalid(
          `entries "${before.raw}" and "${raw}" land on the same path once npm strips the top-level directory ` +
            `(compared as a case-insensitive file system would); refusing the ambiguity.`,
        );
      }
    };

    const onEntry = (entry: ReadEntry) => {
      if (settled) return entry.resume();
      try {
        entries++;
        if (entries > limits.maxEntries) throw invalid(`it has more than ${limits.maxEntries} entries.`);
        pathTotal += entry.path.length;
        if (pathTotal > limits.maxTotalPathLength) throw invalid(`its entry paths total more than ${limits.maxTotalPathLength} characters.`);
        const { top, rest } = entryPathOf(entry.path, entry.type === 'Directory', limits);
        if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
          throw invalid(`entry "${entry.path}" is a ${entry.type === 'Link' ? 'hard' : 'symbolic'} link; npm packages may not contain links.`);
        }
        if (entry.type !== 'Directory' && !FILE_TYPES.has(entry.type)) {
          throw invalid(`entry "${entry.path}" has the unsupported type ${entry.type}.`);
        }
        if (topDirectory === undefined) topDirectory = top;
        else if (top !== topDirectory) {
          throw invalid(
            `entries lie in more than one top-level directory ("${topDirectory}/" and "${top}/"); npm strips the first path ` +
              'component of every entry, so all of them would be installed into one package.',
          );
        }
        if (entry.type === 'Directory') {
          land(rest, 'directory', entry.path);
          return entry.resume();
        }
        land(rest, 'file', entry.path);
        const path = rest.join('/');
        files.push(path);
        fileCount++;
        unpackedSize += entry.size;
        // npm adds `scripts.install = "node-gyp rebuild"` for any `*.gyp` at the package root (`gypfile`).
        if (rest.length === 1 && path.endsWith('.gyp')) hasGypFile = true;
        if (path === 'server.js') hasServerJs = true;
        if (path === 'npm-shrinkwrap.json') hasShrinkwrap = true;
        if (path !== 'package.json') return entry.resume();
        if (entry.size > limits.maxPackageJsonBytes) {
          throw errors.npmPackageFileInvalid(`package.json file too large: ${entry.size} bytes (the limit is ${limits.maxPackageJsonBytes}).`);
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          manifestText = Buffer.concat(chunks).toString('utf8');
        });
      } catch (err) {
        entry.resume();
        fail(err);
      }
    };
    parser.on('entry', onEntry);
    // Entries tar itself will not represent (sparse files, volume headers…) are refused too, not skipped.
    parser.on('ignoredEntry', (entry: ReadEntry) => fail(invalid(`entry "${entry.path}" has the unsupported type ${entry.type}.`)));
    parser.on('error', (err: Error) => fail(invalid(`not a valid tar archive (${err.message.replace(/^TAR_\w+: /, '')}).`)));
    parser.on('end', () => {
      if (settled) return;
      const manifestPath = `${topDirectory ?? 'package'}/package.json`;
      if (manifestText === undefined) return fail(errors.npmPackageFileInvalid(`package.json not found: the tarball must contain ${manifestPath}.`));
      let manifest: unknown;
      try {
        manifest = JSON.parse(manifestText.replace(/^\uFEFF/, ''));
      } catch {
        return fail(invalid(`${manifestPath} is not valid JSON.`));
      }
      if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
        return fail(invalid(`${manifestPath} is not a JSON object.`));
      }
      settled = true;
      resolve({ manifest: manifest as Record<string, unknown>, fileCount, unpackedSize, hasGypFile, hasServerJs, hasShrinkwrap, files });
    });

    let first = true;
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (first) {
        first = false;
        // A gzip inside the gzip would be unpacked again by tar's parser: nobody packs like that but a bomb maker.
        if (chunk[0] === GZIP_MAGIC[0] && chunk[1] === GZIP_MAGIC[1]) return fail(invalid('the tarball is compressed twice.'));
      }
      output += chunk.length;
      if (output > limits.maxUnpackedBytes || (output > limits.ratioFloorBytes && output / bytes.length > limits.maxRatio)) {
        return fail(
          invalid(
            `it unpacks to more than ${Math.min(output, limits.maxUnpackedBytes)} bytes from ${bytes.length} (limits: ` +
              `${limits.maxUnpackedBytes} bytes, ratio ${limits.maxRatio}:1); refusing a possible decompression bomb.`,
          ),
        );
      }
      parser.write(chunk);
    });
    gunzip.on('error', () => fail(invalid('the gzip data is truncated or corrupt.')));
    gunzip.on('end', () => {
      if (!settled) parser.end();
    });

    // Feed in slices so a bomb is cut off after one slice's worth of output, not after the whole input.
    const feed = (offset: number) => {
      if (settled) return;
      if (offset >= bytes.length) {
        gunzip.end();
        return;
      }
      const slice = bytes.subarray(offset, offset + INPUT_CHUNK);
      if (gunzip.write(slice)) setImmediate(feed, offset + INPUT_CHUNK);
      else gunzip.once('drain', () => feed(offset + INPUT_CHUNK));
    };
    feed(0);
  });
}
