import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { AppError } from '../../src/domain/errors.js';
import {
  checkManifestCoherence,
  decodeAttachment,
  decodedSizeOf,
  digestsOf,
  readPublishDocument,
  storedVersion,
  validatePublishDocument,
  verifyAttachment,
} from '../../src/domain/npm/publish.js';
import { installFieldsOf, type TarballFacts } from '../../src/domain/npm/manifest.js';
import { publishBody } from '../helpers/npm.js';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, 400);
    return String(err.body.error);
  }
  assert.fail('expected a 400');
};

describe('the npm publish document', () => {
  it('reads one version, its first dist-tag and its attachment', () => {
    const { body } = publishBody('@a/b', '1.2.3', { tag: 'beta', readme: '# b' });
    const doc = readPublishDocument(body);
    assert.equal(doc.name, '@a/b');
    assert.equal(doc.version, '1.2.3');
    assert.equal(doc.distTag, 'beta');
    assert.equal(doc.attachmentKey, '@a/b-1.2.3.tgz');
    assert.equal(doc.readme, '# b');
    assert.equal(doc.readmeFilename, 'README.md');
  });
  it('defaults the tag to latest', () => {
    const { body } = publishBody('@a/b', '1.2.3');
    delete body['dist-tags'];
    assert.equal(readPublishDocument(body).distTag, 'latest');
  });
  it('refuses malformed documents with a precise message', () => {
    const { body } = publishBody('@a/b', '1.2.3');
    assert.match(message(() => readPublishDocument([])), /must be a JSON object/);
    assert.match(message(() => readPublishDocument({ ...body, versions: undefined })), /^Versions key is missing/);
    assert.match(message(() => readPublishDocument({ ...body, versions: {} })), /^Version is empty\.$/);
    assert.match(message(() => readPublishDocument({ ...body, versions: { a: {}, b: {} } })), /Only one version/);
    assert.match(message(() => readPublishDocument({ ...body, name: undefined })), /Name should be a valid NPM package name/);
    assert.match(message(() => readPublishDocument({ ...body, _attachments: { 'x.tgz': {} } })), /Attachment data is empty.*found "x\.tgz"/);
  });
  it('computes the size from Base64 as GitLab does', () => {
    for (const n of [0, 1, 2, 3, 4, 100, 1001]) assert.equal(decodedSizeOf(Buffer.alloc(n, 7).toString('base64')), n);
  });
  it('decodes strict Base64 only', () => {
    assert.deepEqual(decodeAttachment(Buffer.from('hello').toString('base64')), Buffer.from('hello'));
    for (const bad of ['abc', 'ab!=', 'aGVsbG8=\n', 'a==b']) assert.match(message(() => decodeAttachment(bad)), /not valid base64/);
  });
  it('validates names, versions, consistency, size and the JSON schema', () => {
    const ok = readPublishDocument(publishBody('@a/b', '1.2.3').body);
    validatePublishDocument(ok, '@a/b');
    assert.match(message(() => validatePublishDocument(ok, '@a/c')), /differs from the body's name/);
    const wrongInner = readPublishDocument(publishBody('@a/b', '1.2.3', { extra: { version: '1.2.4' } }).body);
    assert.match(message(() => validatePublishDocument(wrongInner, '@a/b')), /must have name "@a\/b" and version "1\.2\.3"/);
    const huge = readPublishDocument(publishBody('@a/b', '1.2.3', { extra: { description: 'x'.repeat(20_000) } }).body);
    assert.match(message(() => validatePublishDocument(huge, '@a/b')), /Package json structure is too large/);
    // A long readme does not count: it is stored apart.
    validatePublishDocument(readPublishDocument(publishBody('@a/b', '1.2.3', { readme: 'x'.repeat(50_000) }).body), '@a/b');
  });
  it('verifies shasum, SRI integrity (strongest algorithm decides) and length against the bytes', () => {
    const { body, tgz } = publishBody('@a/b', '1.2.3');
    const doc = readPublishDocument(body);
    const digests = digestsOf(tgz);
    verifyAttachment(doc, tgz, digests);
    const sri = (alg: string, data: Buffer) => `${alg}-${createHash(alg).update(data).digest('base64')}`;
    // Several entries: a matching sha512 among them is enough; a weaker wrong one is ignored.
    body.versions['1.2.3'].dist.integrity = `${sri('sha512', Buffer.from('x'))} ${sri('sha512', tgz)} ${sri('sha1', Buffer.from('y'))}`;
    verifyAttachment(readPublishDocument(body), tgz, digests);
    body.versions['1.2.3'].dist.integrity = sri('sha384', tgz);
    verifyAttachment(readPublishDocument(body), tgz, digests);
    body.versions['1.2.3'].dist.integrity = `${sri('sha1', tgz)} ${sri('sha512', Buffer.from('x'))}`;
    assert.match(message(() => verifyAttachment(readPublishDocument(body), tgz, digests)), /dist\.integrity does not match/);
    body.versions['1.2.3'].dist.integrity = 'md5-abc';
    assert.match(message(() => verifyAttachment(readPublishDocument(body), tgz, digests)), /names no supported hash/);
    delete body.versions['1.2.3'].dist.integrity;
    verifyAttachment(readPublishDocument(body), tgz, digests);
    body.versions['1.2.3'].dist.shasum = digests.sha1.toUpperCase();
    verifyAttachment(readPublishDocument(body), tgz, digests);
  });
  it('checks coherence with the tarball’s package.json, allowing only npm’s own rewrites', () => {
    const facts = (manifest: Record<string, unknown>, more = {}) => ({ manifest, hasGypFile: false, hasServerJs: false, hasShrinkwrap: false, files: [], ...more });
    const doc = (scripts?: Record<string, string>) => readPublishDocument(publishBody('@a/b', '1.2.3', { extra: scripts ? { scripts } : {} }).body);
    checkManifestCoherence(doc(), facts({ name: '@a/b', version: '1.2.3' }));
    checkManifestCoherence(doc(), facts({ name: ' @a/b ', version: 'v1.2.3+build' }));
    checkManifestCoherence(doc({ t: 'tap' }), facts({ name: '@a/b', version: '1.2.3', scripts: { t: './node_modules/.bin/tap', n: 5 } }));
    checkManifestCoherence(doc({ install: 'node-gyp rebuild' }), facts({ name: '@a/b', version: '1.2.3' }, { hasGypFile: true }));
    checkManifestCoherence(doc({ start: 'node server.js' }), facts({ name: '@a/b', version: '1.2.3' }, { hasServerJs: true }));
    assert.match(message(() => checkManifestCoherence(doc({ install: 'node-gyp rebuild' }), facts({ name: '@a/b', version: '1.2.3' }))), /scripts/);
    assert.match(message(() => checkManifestCoherence(doc(), facts({ name: '@a/c', version: '1.2.3' }))), /has name "@a\/c"/);
    assert.match(message(() => checkManifestCoherence(doc(), facts({ name: '@a/b', version: '1.2.4' }))), /has version "1\.2\.4"/);
    assert.match(message(() => checkManifestCoherence(doc(), facts({ name: '@a/b' }))), /has version undefined/);
    assert.match(message(() => checkManifestCoherence(doc(), facts({ name: '@a/b', version: '1.2.3', scripts: { preinstall: 'x' } }))), /scripts/);
  });
  it('stores the version without the bulky fields, with the server’s dist and hasInstallScript', () => {
    const extra = { scripts: { postinstall: 'x' }, deprecated: 'nope', contributors: ['c'], exports: { '.': './i.js' }, _resolved: 'https://evil.example/x.tgz', _integrity: 'sha512-x' };
    const { body, tgz } = publishBody('@a/b', '1.2.3', { readme: 'r', extra });
    const tarball = { manifest: { name: '@a/b', version: '1.2.3', ...extra }, hasGypFile: false, hasServerJs: false, hasShrinkwrap: false, files: ['package.json'] };
    const stored = storedVersion(readPublishDocument(body), { digests: digestsOf(tgz), fileCount: 2, unpackedSize: 10, tarball });
    for (const gone of ['readme', 'readmeFilename', 'contributors', 'exports', 'deprecated', '_resolved', '_integrity']) assert.equal(stored[gone], undefined, gone);
    assert.equal(stored._nodeVersion, '20.20.2');
    assert.equal(stored.hasInstallScript, true);
    assert.equal(stored._id, '@a/b@1.2.3');
    assert.deepEqual(stored.dist, { integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`, shasum: digestsOf(tgz).sha1, fileCount: 2, unpackedSize: 10 });
  });
});

describe('install-relevant fields come from the tarball’s package.json (manifest confusion)', () => {
  const facts = (manifest: Record<string, unknown>, more: Partial<TarballFacts> = {}): TarballFacts => ({
    manifest: { name: '@a/b', version: '1.2.3', ...manifest },
    hasGypFile: false,
    hasServerJs: false,
    hasShrinkwrap: false,
    files: ['package.json'],
    ...more,
  });
  const stored = (docExtra: Record<string, unknown>, tarball: TarballFacts) => {
    const { body, tgz } = publishBody('@a/b', '1.2.3', { extra: docExtra });
    return storedVersion(readPublishDocument(body), { digests: digestsOf(tgz), fileCount: 1, unpackedSize: 1, tarball });
  };

  it('replaces what the publish body claims with what the tarball installs, and drops what it lacks', () => {
    const tarball = facts({
      dependencies: { evil: '^1.0.0' },
      optionalDependencies: { opt: '1' },
      peerDependencies: { react: '*' },
      peerDependenciesMeta: { react: { optional: true } },
      engines: { node: '>=99' },
      os: ['linux'],
      cpu: ['x64'],
      libc: ['glibc'],
      directories: { lib: 'lib' },
      scripts: { test: 'tap' },
    });
    const s = stored(
      { dependencies: {}, devDependencies: { lie: '1' }, bin: { x: 'x.js' }, hasInstallScript: false, _hasShrinkwrap: true, gypfile: true, description: 'kept' },
      tarball,
    );
    assert.deepEqual(s.dependencies, { evil: '^1.0.0' });
    assert.deepEqual(s.optionalDependencies, { opt: '1' });
    assert.deepEqual(s.peerDependencies, { react: '*' });
    assert.deepEqual(s.peerDependenciesMeta, { react: { optional: true } });
    assert.deepEqual(s.engines, { node: '>=99' });
    assert.deepEqual([s.os, s.cpu, s.libc], [['linux'], ['x64'], ['glibc']]);
    assert.deepEqual(s.scripts, { test: 'tap' });
    for (const gone of ['devDependencies', 'bin', 'hasInstallScript', '_hasShrinkwrap', 'gypfile']) assert.equal(s[gone], undefined, gone);
    // What does not change an install stays as the client sent it.
    assert.equal(s.description, 'kept');
  });
  it('marks install scripts from the tarball, including the node-gyp build npm implies for a *.gyp file', () => {
    assert.equal(installFieldsOf(facts({ scripts: { postinstall: 'node evil.js' } })).hasInstallScript, true);
    assert.equal(installFieldsOf(facts({ scripts: { preinstall: 'x' } })).hasInstallScript, true);
    assert.equal(installFieldsOf(facts({ scripts: { prepare: 'x', test: 'y' } })).hasInstallScript, undefined);
    const gyp = installFieldsOf(facts({}, { hasGypFile: true }));
    assert.deepEqual(gyp.scripts, { install: 'node-gyp rebuild' });
    assert.equal(gyp.gypfile, true);
    assert.equal(gyp.hasInstallScript, true);
    // `gypfile: false` turns the implied build off, as in npm; an explicit install script is kept as it is.
    assert.equal(installFieldsOf(facts({ gypfile: false }, { hasGypFile: true })).hasInstallScript, undefined);
    assert.deepEqual(installFieldsOf(facts({ scripts: { install: 'make' } }, { hasGypFile: true })).scripts, { install: 'make' });
    assert.deepEqual(installFieldsOf(facts({}, { hasServerJs: true })).scripts, { start: 'node server.js' });
    assert.equal(installFieldsOf(facts({}, { hasShrinkwrap: true }))._hasShrinkwrap, true);
  });
  it('normalises bin, directories.bin and bundleDependencies as npm publish does', () => {
    assert.deepEqual(installFieldsOf(facts({ bin: './cli.js' })).bin, { b: 'cli.js' });
    assert.deepEqual(installFieldsOf(facts({ bin: { 'x/y': '../../etc/passwd', z: 5, w: 'bin\\w.js' } })).bin, { y: 'etc/passwd', w: 'bin/w.js' });
    assert.deepEqual(installFieldsOf(facts({ bin: ['bin/a.js'] })).bin, { 'a.js': 'bin/a.js' });
    assert.equal(installFieldsOf(facts({ bin: 7 })).bin, undefined);
    const dirBin = facts({ directories: { bin: './tools' } }, { files: ['package.json', 'tools/one', 'tools/sub/two.js', 'tools/.hidden', 'tools/.d/x', 'other/three'] });
    // What npm 11.19.1's `@npmcli/package-json` prepare() gives for these files (it lists the directory too).
    assert.deepEqual(installFieldsOf(dirBin).bin, { one: 'tools/one', sub: 'tools/sub', 'two.js': 'tools/sub/two.js' });
    assert.deepEqual(installFieldsOf(facts({ bin: { a: 'a.js' }, directories: { bin: 'tools' } }, { files: ['tools/b'] })).bin, { a: 'a.js' });
    assert.deepEqual(installFieldsOf(facts({ dependencies: { a: '1', b: '2' }, bundleDependencies: true })).bundleDependencies, ['a', 'b']);
    assert.deepEqual(installFieldsOf(facts({ bundledDependencies: ['a'] })).bundleDependencies, ['a']);
    assert.equal(installFieldsOf(facts({ bundledDependencies: ['a'] })).bundledDependencies, undefined);
    assert.equal(installFieldsOf(facts({ bundleDependencies: false })).bundleDependencies, undefined);
  });
  it('refuses dependency fields that are not objects, and a derived document past GitLab’s size bound', () => {
    assert.match(message(() => installFieldsOf(facts({ dependencies: 'evil@1' }))), /"dependencies" in the tarball's package\.json must be an object/);
    assert.match(message(() => installFieldsOf(facts({ peerDependencies: ['x'] }))), /"peerDependencies"/);
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`dep-${i}`, '^1.0.0']));
    assert.match(message(() => stored({}, facts({ dependencies: many }))), /Package json structure is too large/);
  });
  it('builds exactly what npm itself would publish for an honest package.json', () => {
    const manifest = {
      name: '@a/b',
      version: '1.2.3',
      bin: 'cli.js',
      dependencies: { semver: '^7.0.0', gh: 'github:user/repo' },
      scripts: { test: 'node --test' },
      engines: { node: '>=20' },
      bundleDependencies: true,
      directories: { lib: 'lib' },
    };
    // npm 11.19.1's `@npmcli/package-json` prepare() output for that package.json beside cli.js and binding.gyp
    // (what `npm publish` puts in the body), minus readme and _id.
    const body = {
      name: '@a/b',
      version: '1.2.3',
      bin: { b: 'cli.js' },
      dependencies: { semver: '^7.0.0', gh: 'github:user/repo' },
      scripts: { test: 'node --test', install: 'node-gyp rebuild' },
      engines: { node: '>=20' },
      bundleDependencies: ['semver', 'gh'],
      directories: { lib: 'lib' },
      gypfile: true,
    };
    const s = stored(body, facts(manifest, { hasGypFile: true, files: ['package.json', 'cli.js', 'binding.gyp'] }));
    for (const field of Object.keys(body) as Array<keyof typeof body>) assert.deepEqual(s[field], body[field], field);
    assert.equal(s.hasInstallScript, true);
  });
});
