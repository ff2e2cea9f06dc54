import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNpmPath, type NpmCommand, type NpmMethod, type NpmScope } from '../../src/domain/npm/npm-path.js';

type Row = [method: NpmMethod, raw: string, expected: NpmCommand, scopes?: readonly NpmScope[]];

const ALL: readonly NpmScope[] = ['project', 'group', 'instance'];
const NAMESPACES: readonly NpmScope[] = ['group', 'instance'];
const notFound: NpmCommand = { kind: 'notFound' };

/** Raw paths as clients send them (after `…/packages/npm/`, still percent-encoded), and the command each is. */
const ROWS: Row[] = [
  // Packuments: the three spellings of a scoped name stay raw; decoding is the access check's job.
  ['GET', '@scope%2fpkg', { kind: 'packument', rawName: '@scope%2fpkg' }, ALL],
  ['GET', '@scope%2Fpkg', { kind: 'packument', rawName: '@scope%2Fpkg' }, ALL],
  ['GET', '@scope/pkg', { kind: 'packument', rawName: '@scope/pkg' }, ALL],
  ['HEAD', 'left-pad', { kind: 'packument', rawName: 'left-pad' }, ALL],
  ['GET', '@scope%252fpkg', { kind: 'packument', rawName: '@scope%252fpkg' }, ALL],
  // Tarballs, at the project endpoint; at a group or the instance the whole path is a (missing) packument name.
  ['GET', '@scope/pkg/-/@scope/pkg-1.0.0.tgz', { kind: 'tarball', rawName: '@scope/pkg', rawFile: '@scope/pkg-1.0.0.tgz' }, ['project']],
  ['GET', '@scope%2fpkg/-/pkg-1.0.0.tgz', { kind: 'tarball', rawName: '@scope%2fpkg', rawFile: 'pkg-1.0.0.tgz' }, ['project']],
  ['GET', 'pkg/-/pkg-1.0.0.tgz', { kind: 'packument', rawName: 'pkg/-/pkg-1.0.0.tgz' }, NAMESPACES],
  ['GET', 'pkg/-/', notFound, ['project']],
  // Provenance attestations (docs/design/npm-provenance.md): the version follows the last `@`.
  ['GET', '-/npm/v1/attestations/@scope%2fpkg@1.0.0', { kind: 'attestations', rawName: '@scope%2fpkg', rawVersion: '1.0.0' }, ALL],
  ['GET', '-/npm/v1/attestations/@scope/pkg@1.0.0-rc.1', { kind: 'attestations', rawName: '@scope/pkg', rawVersion: '1.0.0-rc.1' }, ALL],
  ['GET', '-/npm/v1/attestations/left-pad@1.3.0', { kind: 'attestations', rawName: 'left-pad', rawVersion: '1.3.0' }, ALL],
  ['GET', '-/npm/v1/attestations/@scope%2fpkg', notFound, ALL],
  ['GET', '-/npm/v1/attestations/left-pad@', notFound, ALL],
  ['GET', '-/npm/v1/attestations/@1.0.0', notFound, ALL],
  ['PUT', '-/npm/v1/attestations/left-pad@1.3.0', notFound, NAMESPACES],
  // Dist-tags.
  ['GET', '-/package/@scope%2fpkg/dist-tags', { kind: 'distTags', rawName: '@scope%2fpkg' }, ALL],
  ['GET', '-/package/@scope/pkg/dist-tags', { kind: 'distTags', rawName: '@scope/pkg' }, ALL],
  ['PUT', '-/package/@scope%2fpkg/dist-tags/next', { kind: 'addDistTag', rawName: '@scope%2fpkg', rawTag: 'next' }, ALL],
  ['PUT', '-/package/pkg/dist-tags/v1%2Fbeta', { kind: 'addDistTag', rawName: 'pkg', rawTag: 'v1%2Fbeta' }, ALL],
  ['DELETE', '-/package/pkg/dist-tags/%E2%9C%93', { kind: 'removeDistTag', rawName: 'pkg', rawTag: '%E2%9C%93' }, ALL],
  ['PUT', '-/package/pkg/dist-tags/', notFound, ALL],
  ['DELETE', '-/package/pkg/dist-tags/', notFound, ALL],
  // A tag is one segment: a literal `/` makes the path something else.
  ['GET', '-/package/pkg/dist-tags/next', { kind: 'packument', rawName: '-/package/pkg/dist-tags/next' }, ALL],
  // Publish and deprecate: one segment, project only.
  ['PUT', '@scope%2fpkg', { kind: 'publish', rawName: '@scope%2fpkg' }, ['project']],
  ['PUT', '@scope/pkg', notFound, ['project']],
  ['PUT', '@scope%2fpkg', notFound, NAMESPACES],
  ['PUT', '', notFound, ALL],
  // Unpublish: `-rev/` paths.
  ['PUT', '@scope%2fpkg/-rev/3-abc', { kind: 'unpublishVersion', rawName: '@scope%2fpkg', rawRev: '3-abc' }, ALL],
  ['DELETE', '@scope%2fpkg/-rev/3-abc', { kind: 'unpublishPackage', rawName: '@scope%2fpkg', rawRev: '3-abc' }, ALL],
  [
    'DELETE',
    '@scope/pkg/-/@scope/pkg-1.0.0.tgz/-rev/3-abc',
    { kind: 'unpublishTarball', rawName: '@scope/pkg', rawFile: '@scope/pkg-1.0.0.tgz', rawRev: '3-abc' },
    ALL,
  ],
  ['PUT', 'pkg/-/pkg-1.0.0.tgz/-rev/1-a', { kind: 'unpublishTarball', rawName: 'pkg', rawFile: 'pkg-1.0.0.tgz', rawRev: '1-a' }, ALL],
  ['DELETE', '-/whatever/-rev/1', notFound, ALL],
  ['DELETE', 'pkg/-rev/', notFound, ALL],
  // Registry-level commands.
  ['GET', '-/whoami', { kind: 'whoami' }, ALL],
  ['GET', '-/ping', { kind: 'ping' }, ALL],
  ['GET', '-/v1/search', { kind: 'search' }, ALL],
  ['PUT', '-/user/org.couchdb.user:alice', { kind: 'login', rawUser: 'alice' }, ALL],
  ['PUT', '-/user/org.couchdb.user:a%20b', { kind: 'login', rawUser: 'a%20b' }, ALL],
  ['DELETE', '-/user/token/npm_abc', { kind: 'logout', rawToken: 'npm_abc' }, ALL],
  ['POST', '-/v1/login', { kind: 'webLogin' }, ALL],
  ['POST', '-/npm/v1/security/advisories/bulk', { kind: 'audit', path: 'advisories/bulk' }, ALL],
  ['POST', '-/npm/v1/security/audits/quick', { kind: 'audit', path: 'audits/quick' }, ALL],
  // Garbage.
  ['GET', '', notFound, ALL],
  ['POST', '-/npm/v1/security/audits', notFound, ALL],
  ['POST', 'pkg', notFound, ALL],
  ['DELETE', 'pkg', notFound, ALL],
  ['DELETE', '-/user/token/', notFound, ALL],
  ['PUT', '-/user/org.couchdb.user:', notFound, ['project']],
];

describe('parseNpmPath: one parser for the project, group and instance endpoints', () => {
  for (const [method, raw, expected, scopes = ALL] of ROWS) {
    it(`${method} ${JSON.stringify(raw)} at ${scopes.join(', ')} → ${expected.kind}`, () => {
      for (const scope of scopes) assert.deepEqual(parseNpmPath(raw, method, scope), expected, scope);
    });
  }

  it('PUT of a package is a deprecation when npm says so (deprecate and undeprecate, any case)', () => {
    for (const header of ['deprecate', 'undeprecate', 'Deprecate']) {
      assert.deepEqual(parseNpmPath('@s%2fp', 'PUT', 'project', header), { kind: 'deprecate', rawName: '@s%2fp' }, header);
    }
    assert.deepEqual(parseNpmPath('@s%2fp', 'PUT', 'project', 'publish'), { kind: 'publish', rawName: '@s%2fp' });
    // The header does not make a deprecation of anything but a package PUT.
    assert.equal(parseNpmPath('-/package/p/dist-tags/x', 'PUT', 'project', 'deprecate').kind, 'addDistTag');
  });

  it('never decodes: a name with an encoded `..` reaches the decoder as sent', () => {
    assert.deepEqual(parseNpmPath('%2e%2e%2fetc', 'GET', 'project'), { kind: 'packument', rawName: '%2e%2e%2fetc' });
  });
});
