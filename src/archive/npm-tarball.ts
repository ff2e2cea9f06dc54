/**
 * Reads a published npm tarball in memory, without extracting anything, and refuses what an installer should
 * never be handed: not gzip, corrupt or truncated data, decompression bombs, entries that escape the package
 * directory or are links or devices, and a missing or oversized `package/package.json`.
 *
 * The gzip layer is decompressed here (not inside tar's parser) so the output can be counted and cut off the
 * moment it passes a limit; `tar`'s `Parser` (npm's own, strict mode) then reads the plain tar stream.
 */
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { errors } from '../domain/errors.js';
import type { TarballFacts } from '../domain/npm/publish.js';

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
}

export const DEFAULT_NPM_TARBALL_LIMITS: NpmTarballLimits = Object.freeze({
  maxUnpackedBytes: 1024 * 1024 * 1024,
  // Real packages pack 3–20:1; a stream of zeros packs about 1000:1.
  maxRatio: 250,
  ratioFloorBytes: 16 * 1024 * 1024,
  maxPackageJsonBytes: 4 * 1024 * 1024,
  maxEntries: 100_000,
});

export interface NpmTarballInspection extends TarballFacts {
  /** Regular files, as npm's `dist.fileCount`. */
  readonly fileCount: number;
  /** Their total size, as npm's `dist.unpackedSize`. */
  readonly unpackedSize: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const MANIFEST_PATH = 'package/package.json';
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const INPUT_CHUNK = 64 * 1024;

const invalid = (detail: string) => errors.npmBadRequest(`Invalid package file: ${detail}`);

/** `./package/x` and `package/x` are the same entry; backslashes count as separators (Windows-made archives). */
const normalise = (p: string): string => p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');

function checkEntryPath(raw: string): string {
  const p = normalise(raw);
  if (p.startsWith('/') || /^[a-zA-Z]:/.test(p)) throw invalid(`entry "${raw}" has an absolute path.`);
  if (p.split('/').includes('..')) throw invalid(`entry "${raw}" points outside the package directory.`);
  return p;
}

export function inspectNpmTarball(bytes: Buffer, limits: NpmTarballLimits = DEFAULT_NPM_TARBALL_LIMITS): Promise<NpmTarballInspection> {
  if (bytes.length < 2 || bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) {
    return Promise.reject(invalid('the attachment is not a gzip-compressed tarball.'));
  }

  return new Promise<NpmTarballInspection>((resolve, reject) => {
    let settled = false;
    let manifestText: string | undefined;
    let manifestSeen = 0;
    let fileCount = 0;
    let unpackedSize = 0;
    let entries = 0;
    let hasGypFile = false;
    let hasServerJs = false;
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

    const onEntry = (entry: ReadEntry) => {
      if (settled) return entry.resume();
      try {
        entries++;
        if (entries > limits.maxEntries) throw invalid(`it has more than ${limits.maxEntries} entries.`);
        const path = checkEntryPath(entry.path);
        if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
          throw invalid(`entry "${entry.path}" is a ${entry.type === 'Link' ? 'hard' : 'symbolic'} link; npm packages may not contain links.`);
        }
        if (entry.type !== 'Directory' && !FILE_TYPES.has(entry.type)) {
          throw invalid(`entry "${entry.path}" has the unsupported type ${entry.type}.`);
        }
        if (entry.type === 'Directory') return entry.resume();
        fileCount++;
        unpackedSize += entry.size;
        if (/^package\/[^/]+\.gyp$/.test(path)) hasGypFile = true;
        if (path === 'package/server.js') hasServerJs = true;
        if (path !== MANIFEST_PATH) return entry.resume();
        manifestSeen++;
        // A second copy would be the one an extractor leaves on disk: refuse the ambiguity instead of guessing.
        if (manifestSeen > 1) throw invalid(`${MANIFEST_PATH} appears more than once.`);
        if (entry.size > limits.maxPackageJsonBytes) {
          throw errors.npmBadRequest(`package.json file too large: ${entry.size} bytes (the limit is ${limits.maxPackageJsonBytes}).`);
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
      if (manifestText === undefined) return fail(errors.npmBadRequest(`package.json not found: the tarball must contain ${MANIFEST_PATH}.`));
      let manifest: unknown;
      try {
        manifest = JSON.parse(manifestText.replace(/^\uFEFF/, ''));
      } catch {
        return fail(invalid(`${MANIFEST_PATH} is not valid JSON.`));
      }
      if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
        return fail(invalid(`${MANIFEST_PATH} is not a JSON object.`));
      }
      settled = true;
      resolve({ manifest: manifest as Record<string, unknown>, fileCount, unpackedSize, hasGypFile, hasServerJs });
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
