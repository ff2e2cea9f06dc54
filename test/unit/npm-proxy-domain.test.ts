/** The npm proxy's pure rules: the deny list, reading a hostile upstream packument, rewriting, digests. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointBase, escapedName, expectedDigest, isDenied, isDenyListEntry, proxiedPackuments, readUpstreamPackument, UpstreamDocumentError } from '../../src/domain/npm/proxy.js';

const SRI = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const version = (name: string, v: string, dist: Record<string, unknown> = {}) => ({
  name,
  version: v,
  description: 'd',
  dependencies: { a: '^1' },
  dist: { tarball: `https://registry.example/${name}/-/${name.split('/').pop()}-${v}.tgz`, integrity: SRI, ...dist },
});

describe('npm proxy rules', () => {
  it('deny list entries are names or @scope/* patterns, matched ignoring case', () => {
    for (const ok of ['left-pad', '@acme/x', '@acme/*', 'JSONStream']) assert.ok(isDenyListEntry(ok), ok);
    for (const bad of ['not a name', '@acme', '*', '@/*', 'a/b', '']) assert.ok(!isDenyListEntry(bad), bad);
    assert.ok(isDenied('Left-Pad', ['left-pad']));
    assert.ok(isDenied('@Evil/x', ['@evil/*']));
    assert.ok(!isDenied('@evil-twin/x', ['@evil/*']));
    assert.ok(!isDenied('left-pad-2', ['left-pad']));
  });

  it('names are escaped as npm does, endpoints as the routes spell them', () => {
    assert.equal(escapedName('@types/node'), '@types%2Fnode');
    assert.equal(escapedName('left-pad'), 'left-pad');
    assert.equal(endpointBase('http://w', { kind: 'group', id: 'a/b' }), 'http://w/api/v4/groups/a%2Fb/-/packages/npm');
    assert.equal(endpointBase('http://w', { kind: 'project', id: '7' }), 'http://w/api/v4/projects/7/packages/npm');
  });

  it('refuses a document that is not an object or names another package', () => {
    assert.throws(() => readUpstreamPackument([], 'x'), UpstreamDocumentError);
    assert.throws(() => readUpstreamPackument({ name: 'y', versions: {} }, 'x'), /describes "y", not x/);
    assert.throws(() => readUpstreamPackument({ name: 'x', versions: [] }, 'x'), /versions are not an object/);
  });

  it('keeps only versions it can route and verify, and dist-tags that point at kept versions', () => {
    const doc = {
      name: 'x',
      _attachments: { huge: 'data' },
      versions: {
        '1.0.0': version('x', '1.0.0'),
        '1.0.1': version('x', '1.0.1', { integrity: undefined, shasum: 'A'.repeat(40) }),
        '2.0.0': version('x', '2.0.0', { integrity: 'md5-abc', shasum: undefined }),
        '3.0.0': version('x', '3.0.0', { tarball: 'file:///etc/passwd' }),
        '4.0.0': version('x', '4.0.0', { tarball: 'https://registry.example/x/-/..%2F..%2Fevil.tgz' }),
        '5.0.0': { ...version('x', '5.0.0'), version: '6.0.0' },
        '7.0.0': 'not an object',
      },
      'dist-tags': { latest: '2.0.0', stable: '1.0.0', bad: 42 },
      time: { modified: '2024-01-01T00:00:00.000Z', '1.0.0': '2023-01-01T00:00:00.000Z', junk: 5 },
    };
    const read = readUpstreamPackument(doc, 'x');
    assert.deepEqual(Object.keys(read.doc.versions as object), ['1.0.0', '1.0.1']);
    assert.deepEqual(read.doc['dist-tags'], { stable: '1.0.0' });
    assert.deepEqual(read.doc.time, { modified: '2024-01-01T00:00:00.000Z', '1.0.0': '2023-01-01T00:00:00.000Z' });
    assert.equal(read.doc._attachments, undefined);
    assert.deepEqual([...read.files.keys()], ['x-1.0.0.tgz', 'x-1.0.1.tgz']);
    assert.equal(read.files.get('x-1.0.1.tgz')!.shasum, 'a'.repeat(40));
  });

  it('rewrites every tarball URL to the endpoint and derives the abbreviated document', () => {
    const read = readUpstreamPackument({ name: '@s/x', versions: { '1.0.0': version('@s/x', '1.0.0') }, 'dist-tags': { latest: '1.0.0' }, time: { modified: 'm' } }, '@s/x');
    const { full, abbreviated, modified } = proxiedPackuments(read, 'http://w/api/v4/packages/npm', 'fallback');
    assert.equal(modified, 'm');
    const v = (full.versions as Record<string, { dist: { tarball: string; integrity: string } }>)['1.0.0']!;
    assert.equal(v.dist.tarball, 'http://w/api/v4/packages/npm/@s/x/-/x-1.0.0.tgz');
    assert.equal(v.dist.integrity, SRI);
    const a = (abbreviated.versions as Record<string, Record<string, unknown>>)['1.0.0']!;
    assert.deepEqual(Object.keys(a).sort(), ['dependencies', 'dist', 'name', 'version']);
    assert.deepEqual(abbreviated.time, { modified: 'm' });
  });

  it('expects the strongest digest the integrity names, else the SHA-1 shasum', () => {
    const sha1 = `sha1-${Buffer.alloc(20, 2).toString('base64')}`;
    assert.equal(expectedDigest({ integrity: `${sha1} ${SRI}`, shasum: undefined })!.algorithm, 'sha512');
    assert.equal(expectedDigest({ integrity: sha1, shasum: undefined })!.sri, sha1);
    const fromShasum = expectedDigest({ integrity: undefined, shasum: '02'.repeat(20) })!;
    assert.equal(fromShasum.algorithm, 'sha1');
    assert.equal(fromShasum.base64, Buffer.alloc(20, 2).toString('base64'));
    assert.equal(expectedDigest({ integrity: undefined, shasum: undefined }), undefined);
  });
});
