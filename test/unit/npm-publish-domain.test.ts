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
    const facts = (manifest: Record<string, unknown>, more = {}) => ({ manifest, hasGypFile: false, hasServerJs: false, ...more });
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
    const { body, tgz } = publishBody('@a/b', '1.2.3', { readme: 'r', extra: { scripts: { postinstall: 'x' }, deprecated: 'nope', contributors: ['c'], exports: { '.': './i.js' } } });
    const stored = storedVersion(readPublishDocument(body), { digests: digestsOf(tgz), fileCount: 2, unpackedSize: 10 });
    for (const gone of ['readme', 'readmeFilename', 'contributors', 'exports', 'deprecated']) assert.equal(stored[gone], undefined, gone);
    assert.equal(stored.hasInstallScript, true);
    assert.equal(stored._id, '@a/b@1.2.3');
    assert.deepEqual(stored.dist, { integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`, shasum: digestsOf(tgz).sha1, fileCount: 2, unpackedSize: 10 });
  });
});
