import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPackuments, distTagsOf, revString, tarballUrl, type PackumentVersion } from '../../src/domain/npm/packument.js';

const version = (v: string, extra: Partial<PackumentVersion> = {}, json: Record<string, unknown> = {}): PackumentVersion => ({
  version: v,
  packageJson: { name: '@a/b', version: v, description: `v${v}`, dist: { integrity: `sha512-${v}`, shasum: `sha-${v}` }, ...json },
  fileName: `@a/b-${v}.tgz`,
  projectId: 7,
  createdAt: `2026-01-0${v.split('.')[0]}T00:00:00.000Z`,
  publisher: 'alice',
  readme: `readme ${v}`,
  readmeFilename: 'README.md',
  ...extra,
});

const base = { name: '@a/b', externalUrl: 'https://reg.example.com/gitlab', modified: '2026-02-01T00:00:00.000Z', rev: '5-0123456789abcdef' };

describe('packument building', () => {
  it('builds tarball URLs on the project route from the external URL (relative root kept), literal slashes', () => {
    assert.equal(tarballUrl('https://reg.example.com/gitlab', 7, '@a/b', '@a/b-1.0.0.tgz'), 'https://reg.example.com/gitlab/api/v4/projects/7/packages/npm/@a/b/-/@a/b-1.0.0.tgz');
  });

  it('adds latest as the highest version when no latest tag exists, and keeps a latest tag that does', () => {
    const noLatest = buildPackuments({ ...base, versions: [version('1.0.0'), version('3.0.0-rc.1'), version('2.0.0')], tags: [{ tag: 'beta', version: '3.0.0-rc.1' }] });
    assert.deepEqual(noLatest.full['dist-tags'], { beta: '3.0.0-rc.1', latest: '3.0.0-rc.1' });
    const withLatest = buildPackuments({ ...base, versions: [version('1.0.0'), version('2.0.0')], tags: [{ tag: 'latest', version: '1.0.0' }] });
    assert.deepEqual(withLatest.full['dist-tags'], { latest: '1.0.0' });
    assert.equal(withLatest.full.readme, 'readme 1.0.0', 'the readme follows the latest tag');
    assert.equal(withLatest.full.description, 'v1.0.0');
  });

  it('drops tags that point at versions not listed', () => {
    const p = buildPackuments({ ...base, versions: [version('1.0.0')], tags: [{ tag: 'gone', version: '0.9.0' }] });
    assert.deepEqual(p.full['dist-tags'], { latest: '1.0.0' });
    assert.deepEqual(distTagsOf(['1.0.0'], [{ tag: 'gone', version: '0.9.0' }, { tag: 'next', version: '1.0.0' }]), { next: '1.0.0', latest: '1.0.0' });
  });

  it('lets a later entry of the same version win (most recently published)', () => {
    const p = buildPackuments({ ...base, versions: [version('1.0.0', { fileName: 'old.tgz' }), version('1.0.0', { fileName: 'new.tgz', projectId: 9 })], tags: [] });
    assert.equal(p.versionCount, 1);
    assert.equal((p.full.versions as any)['1.0.0'].dist.tarball, 'https://reg.example.com/gitlab/api/v4/projects/9/packages/npm/@a/b/-/new.tgz');
  });

  it('full: GitLab’s three keys first, then _id, _rev, time, maintainers; the server’s _npmUser, never the client’s', () => {
    const p = buildPackuments({ ...base, versions: [version('1.0.0', {}, { _npmUser: { name: 'mallory' } }), version('2.0.0', { publisher: 'bob' })], tags: [] });
    assert.deepEqual(Object.keys(p.full).slice(0, 7), ['name', 'versions', 'dist-tags', '_id', '_rev', 'time', 'maintainers']);
    assert.equal(p.full._rev, base.rev);
    assert.deepEqual(p.full.time, { created: '2026-01-01T00:00:00.000Z', modified: base.modified, '1.0.0': '2026-01-01T00:00:00.000Z', '2.0.0': '2026-01-02T00:00:00.000Z' });
    assert.deepEqual(p.full.maintainers, [{ name: 'alice' }, { name: 'bob' }]);
    assert.deepEqual((p.full.versions as any)['1.0.0']._npmUser, { name: 'alice' });
    assert.deepEqual(Object.keys((p.full.versions as any)['1.0.0']).slice(0, 2), ['name', 'version']);
  });

  it('abbreviated: modified, and only install-relevant version fields', () => {
    const p = buildPackuments({
      ...base,
      versions: [version('1.0.0', {}, { scripts: { test: 'x' }, os: ['linux'], engines: { node: '>=20' }, deprecated: 'old', hasInstallScript: true, main: 'index.js' })],
      tags: [],
    });
    assert.deepEqual(Object.keys(p.abbreviated), ['name', 'modified', 'dist-tags', 'versions', 'time']);
    assert.equal(p.abbreviated.modified, base.modified);
    assert.deepEqual(Object.keys((p.abbreviated.versions as any)['1.0.0']).sort(), ['_npmUser', 'deprecated', 'dist', 'engines', 'hasInstallScript', 'name', 'os', 'version']);
  });

  it('an empty version list builds an empty document (the service answers 404 for it)', () => {
    const p = buildPackuments({ ...base, versions: [], tags: [{ tag: 'latest', version: '1.0.0' }] });
    assert.equal(p.versionCount, 0);
    assert.deepEqual(p.full.versions, {});
    assert.deepEqual(p.full['dist-tags'], {});
  });

  it('_rev is stable per package and revision', () => {
    assert.equal(revString('7/@a/b', 3), revString('7/@a/b', 3));
    assert.notEqual(revString('7/@a/b', 3), revString('7/@a/b', 4));
    assert.match(revString('7/@a/b', 3), /^3-[0-9a-f]{16}$/);
  });
});
