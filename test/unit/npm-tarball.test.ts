import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { DEFAULT_NPM_TARBALL_LIMITS, inspectNpmTarball } from '../../src/archive/npm-tarball.js';
import { AppError } from '../../src/domain/errors.js';
import { makeTar, makeTgz } from '../helpers/npm.js';

const manifest = { path: 'package/package.json', content: JSON.stringify({ name: 'x', version: '1.0.0' }) };

async function refused(bytes: Buffer, pattern: RegExp, limits = DEFAULT_NPM_TARBALL_LIMITS): Promise<void> {
  await assert.rejects(inspectNpmTarball(bytes, limits), (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, 400);
    assert.match(String(err.body.error), pattern);
    return true;
  });
}

describe('npm tarball inspection', () => {
  it('reads package/package.json and counts files like npm (dist.fileCount, dist.unpackedSize)', async () => {
    const r = await inspectNpmTarball(
      makeTgz([{ path: 'package/', type: '5' }, manifest, { path: 'package/lib/a.js', content: 'aaaa' }, { path: 'package/binding.gyp', content: '{}' }]),
    );
    assert.deepEqual(r.manifest, { name: 'x', version: '1.0.0' });
    assert.equal(r.fileCount, 3);
    assert.equal(r.unpackedSize, manifest.content.length + 4 + 2);
    assert.equal(r.hasGypFile, true);
    assert.equal(r.hasServerJs, false);
  });
  it('accepts ./package/ prefixes and a BOM', async () => {
    const r = await inspectNpmTarball(makeTgz([{ path: './package/package.json', content: `\uFEFF${manifest.content}` }, { path: './package/server.js', content: '' }]));
    assert.equal(r.manifest.name, 'x');
    assert.equal(r.hasServerJs, true);
  });
  it('refuses anything that is not gzip, or is gzip twice', async () => {
    await refused(makeTar([manifest]), /not a gzip-compressed tarball/);
    await refused(Buffer.alloc(0), /not a gzip-compressed tarball/);
    await refused(gzipSync(makeTgz([manifest])), /compressed twice/);
  });
  it('refuses truncated and corrupt data', async () => {
    const tgz = makeTgz([manifest, { path: 'package/r.bin', content: randomBytes(100_000) }]);
    await refused(tgz.subarray(0, tgz.length - 5000), /truncated or corrupt/);
    const corrupt = Buffer.from(tgz);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff;
    await refused(corrupt, /truncated or corrupt|not a valid tar archive/);
    await refused(gzipSync(Buffer.from('plain text, not tar')), /not a valid tar archive/);
    // A header whose checksum is wrong.
    const tar = makeTar([manifest]);
    tar[0] = 'q'.charCodeAt(0);
    await refused(gzipSync(tar), /not a valid tar archive/);
  });
  it('stops a decompression bomb by ratio and by absolute size, early', async () => {
    const bomb = makeTgz([manifest, { path: 'package/z', content: Buffer.alloc(64 * 1024 * 1024) }]);
    const started = Date.now();
    await refused(bomb, /decompression bomb/);
    assert.ok(Date.now() - started < 5000);
    const incompressible = makeTgz([manifest, { path: 'package/r', content: randomBytes(300_000) }]);
    await refused(incompressible, /unpacks to more than 200000 bytes/, { ...DEFAULT_NPM_TARBALL_LIMITS, maxUnpackedBytes: 200_000 });
    // Small and highly compressible is harmless: under the floor the ratio is not checked.
    await inspectNpmTarball(makeTgz([manifest, { path: 'package/z', content: Buffer.alloc(1024 * 1024) }]));
  });
  it('refuses escaping paths, absolute paths, links, devices and too many entries', async () => {
    await refused(makeTgz([manifest, { path: 'package/../../x', content: '' }]), /outside the package directory/);
    await refused(makeTgz([manifest, { path: 'package\\..\\..\\x', content: '' }]), /outside the package directory/);
    await refused(makeTgz([manifest, { path: '/abs', content: '' }]), /absolute path/);
    await refused(makeTgz([manifest, { path: 'C:/Windows/x', content: '' }]), /absolute path/);
    await refused(makeTgz([manifest, { path: 'package/s', type: '2', linkpath: '../../etc' }]), /symbolic link/);
    await refused(makeTgz([manifest, { path: 'package/h', type: '1', linkpath: 'package/package.json' }]), /hard link/);
    await refused(makeTgz([manifest, { path: 'package/c', type: '3' }]), /unsupported type/);
    await refused(makeTgz([manifest, { path: 'package/a', content: '' }, { path: 'package/b', content: '' }]), /more than 2 entries/, { ...DEFAULT_NPM_TARBALL_LIMITS, maxEntries: 2 });
  });
  it('requires exactly one package/package.json of bounded size that is a JSON object', async () => {
    await refused(makeTgz([{ path: 'package/index.js', content: '' }]), /package\.json not found/);
    await refused(makeTgz([{ path: 'pkg/package.json', content: '{}' }]), /package\.json not found/);
    await refused(makeTgz([{ path: 'package/package.json', content: '[1]' }]), /not a JSON object/);
    await refused(makeTgz([{ path: 'package/package.json', content: 'nope' }]), /not valid JSON/);
    await refused(makeTgz([manifest, manifest]), /appears more than once/);
    await refused(makeTgz([{ path: 'package/package.json', content: `{"a":"${'x'.repeat(2000)}"}` }]), /package\.json file too large: 2008 bytes \(the limit is 1000\)/, {
      ...DEFAULT_NPM_TARBALL_LIMITS,
      maxPackageJsonBytes: 1000,
    });
  });
});
