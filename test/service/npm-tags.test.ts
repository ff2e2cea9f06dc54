/**
 * `npm dist-tag add` / `rm` in `NpmTagsService` against memory ports: which version a tag may point at, what a
 * refusal leaves behind, and that every tag write moves the packument's revision in the transaction that asks the
 * protection rules. npm-commands and npm-namespace (integration) show the same through the three route scopes.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { NpmTagsService } from '../../src/services/npm/tags.service.js';
import { FixedClock, MemoryNpmStore, MemoryProtection, developer, memoryRevisions, project, writer } from '../helpers/npm-memory-ports.js';
import { refused } from '../helpers/refusals.js';

const web = project(10, 'acme/web', 1);
const NAME = '@acme/lib';

describe('npm dist-tags (service tier)', () => {
  let store: MemoryNpmStore;
  let protection: MemoryProtection;
  let tags: NpmTagsService;
  const caller = writer(developer, web, 1);

  beforeEach(async () => {
    store = new MemoryNpmStore();
    protection = new MemoryProtection();
    tags = new NpmTagsService({ db: store.db, packages: store, revisions: memoryRevisions(store), clock: new FixedClock(), protection });
    await store.seedVersion(web.id, NAME, '1.0.0', { tag: 'latest' });
    await store.seedVersion(web.id, NAME, '2.0.0-rc.1', { tag: 'next' });
  });

  it('add points a new tag at the version and moves the packument revision, asking protection inside the write', async () => {
    const before = store.revisionOf(web.id, NAME)!;
    await tags.add(caller, NAME, 'beta', '2.0.0-rc.1');
    assert.deepEqual(store.tagMap(web.id, NAME), { latest: '1.0.0', next: '2.0.0-rc.1', beta: '2.0.0-rc.1' });
    assert.equal(store.revisionOf(web.id, NAME), before + 1);
    assert.deepEqual(protection.calls, [{ action: 'push', name: NAME, inTransaction: true }]);
  });

  it('add moves an existing tag (the same tag row) instead of adding a second one', async () => {
    const [latest] = store.t.tags.filter((t) => t.tag === 'latest');
    await tags.add(caller, NAME, 'latest', '2.0.0-rc.1');
    assert.deepEqual(store.tagMap(web.id, NAME), { latest: '2.0.0-rc.1', next: '2.0.0-rc.1' });
    assert.equal(store.t.tags.filter((t) => t.tag === 'latest').length, 1);
    assert.equal(store.t.tags.find((t) => t.tag === 'latest')!.id, latest!.id);
  });

  it('add of a version the name does not have, or no longer installs, is 404 Package not found and writes nothing', async () => {
    const retired = await store.seedVersion(web.id, NAME, '0.9.0');
    await store.updatePackage(store.db, retired.id, { status: 'pending_destruction', updated_at: '2026-01-01T00:00:00.000Z' });
    const before = store.revisionOf(web.id, NAME);
    for (const version of ['3.0.0', '0.9.0']) {
      const body = await refused(tags.add(caller, NAME, 'beta', version), 'not_found');
      assert.equal(body.error, 'Package not found');
    }
    // Another project's versions are not this project's.
    await refused(tags.add(writer(developer, project(11, 'acme/other', 1), 1), NAME, 'beta', '1.0.0'), 'not_found');
    assert.equal(store.revisionOf(web.id, NAME), before);
    assert.equal(store.transactions, 0, 'refused before any transaction');
    assert.deepEqual(protection.calls, [], 'a missing version is answered before the protection rules are asked');
  });

  it('a protected name refuses the add with 403 and leaves tag and revision as they were', async () => {
    protection.protectedPush.add(NAME);
    const before = store.revisionOf(web.id, NAME);
    const body = await refused(tags.add(caller, NAME, 'latest', '2.0.0-rc.1'), 'package_protected');
    assert.equal(body.error, 'Package protected.');
    assert.deepEqual(store.tagMap(web.id, NAME), { latest: '1.0.0', next: '2.0.0-rc.1' });
    assert.equal(store.revisionOf(web.id, NAME), before);
  });

  it('remove deletes the tag, even latest, and moves the revision', async () => {
    const before = store.revisionOf(web.id, NAME)!;
    await tags.remove(caller, NAME, 'latest');
    assert.deepEqual(store.tagMap(web.id, NAME), { next: '2.0.0-rc.1' });
    assert.equal(store.revisionOf(web.id, NAME), before + 1);
    assert.deepEqual(protection.calls, [{ action: 'push', name: NAME, inTransaction: true }]);
  });

  it('remove of a tag the name does not have is 404 Package tag not found, before protection is asked', async () => {
    protection.protectedPush.add(NAME);
    const before = store.revisionOf(web.id, NAME);
    const body = await refused(tags.remove(caller, NAME, 'beta'), 'not_found');
    assert.equal(body.error, 'Package tag not found');
    assert.equal(store.revisionOf(web.id, NAME), before);
    assert.deepEqual(protection.calls, []);
  });

  it('a protected name refuses the removal with 403 and keeps the tag', async () => {
    protection.protectedPush.add(NAME);
    await refused(tags.remove(caller, NAME, 'next'), 'package_protected');
    assert.deepEqual(store.tagMap(web.id, NAME), { latest: '1.0.0', next: '2.0.0-rc.1' });
  });
});
