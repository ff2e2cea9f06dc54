/**
 * `npm unpublish` in `NpmUnpublishService` against memory ports: `_rev` as the lock (a stale or malformed one is
 * 409, and of two writers holding the same one only the first wins), which versions each of the three forms
 * removes, and that a refusal leaves every version, tag and revision as it was. npm-unpublish (integration) shows
 * the same through HTTP on both databases.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { revString } from '../../src/domain/npm/packument.js';
import type { Executor } from '../../src/services/ports.js';
import type { AuditService } from '../../src/services/audit.service.js';
import type { PackumentKey } from '../../src/services/documents/revisions.js';
import { NpmUnpublishService } from '../../src/services/npm/unpublish.service.js';
import { FixedClock, MemoryNpmStore, MemoryProtection, developer, memoryRevisions, project, writer } from '../helpers/npm-memory-ports.js';
import { refused } from '../helpers/refusals.js';

const web = project(10, 'acme/web', 1);
const NAME = '@acme/lib';
const rev = (revision: number) => revString(`${web.id}/${NAME}`, revision);

/** Audit events as the service records them, with whether each was written inside the transaction. */
class MemoryAudit implements Pick<AuditService, 'record'> {
  readonly events: { details: string | undefined; inTransaction: boolean }[] = [];
  async record(db: Executor, _ctx: unknown, event: Parameters<AuditService['record']>[2]): Promise<void> {
    this.events.push({ details: event.target?.details ?? undefined, inTransaction: (db as { inTransaction?: boolean }).inTransaction === true });
  }
}

describe('npm unpublish (service tier)', () => {
  let store: MemoryNpmStore;
  let protection: MemoryProtection;
  let audit: MemoryAudit;
  let unpublish: NpmUnpublishService;
  const caller = writer(developer, web, 1);
  const live = () => store.t.packages.filter((p) => p.status !== 'pending_destruction').map((p) => p.version);

  const build = (s: MemoryNpmStore) =>
    new NpmUnpublishService({ db: s.db, packages: s, revisions: memoryRevisions(s), deletion: s, clock: new FixedClock(), protection, audit });

  beforeEach(async () => {
    store = new MemoryNpmStore();
    protection = new MemoryProtection();
    audit = new MemoryAudit();
    unpublish = build(store);
    await store.seedVersion(web.id, NAME, '1.0.0');
    await store.seedVersion(web.id, NAME, '1.1.0', { tag: 'latest' });
    await store.seedVersion(web.id, NAME, '2.0.0-rc.1', { tag: 'next' });
  });

  it('removePackage with the current _rev retires every version with its tags, moves the revision and audits each', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    const result = await unpublish.removePackage(caller, NAME, rev(current));
    assert.deepEqual(result, { removed: ['1.0.0', '1.1.0', '2.0.0-rc.1'], rev: rev(current + 1) });
    assert.deepEqual(live(), []);
    assert.deepEqual(store.tagMap(web.id, NAME), {});
    assert.ok(store.t.files.every((f) => f.status === 'pending_destruction'));
    assert.equal(store.revisionOf(web.id, NAME), current + 1);
    assert.deepEqual(
      audit.events.map((e) => e.details),
      ['@acme/lib@1.0.0', '@acme/lib@1.1.0', '@acme/lib@2.0.0-rc.1'],
    );
    assert.ok(audit.events.every((e) => e.inTransaction));
    assert.deepEqual(protection.calls, [{ action: 'delete', name: NAME, inTransaction: true }]);
  });

  it('a stale or malformed _rev is 409 and removes nothing', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    for (const stale of [rev(current - 1), rev(current + 1), `${current}-0000000000000000`, 'abc', `${current}`]) {
      const body = await refused(unpublish.removePackage(caller, NAME, stale), 'revision_conflict');
      assert.match(String(body.error), new RegExp(`the revision is ${rev(current)}, not `));
    }
    assert.deepEqual(live(), ['1.0.0', '1.1.0', '2.0.0-rc.1']);
    assert.equal(store.revisionOf(web.id, NAME), current);
    assert.deepEqual(audit.events, []);
  });

  it('of two writers holding the same _rev, the second finds the revision moved: 409, and its versions stay', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    // The other writer commits between this one's check and its conditional bump.
    class Racing extends MemoryNpmStore {
      override async bumpIfRevision(db: Executor, key: PackumentKey, expected: number, now: string): Promise<boolean> {
        await this.bump(db, key, now);
        return super.bumpIfRevision(db, key, expected, now);
      }
    }
    const racing = new Racing();
    racing.t = structuredClone(store.t);
    const body = await refused(build(racing).removePackage(caller, NAME, rev(current)), 'revision_conflict');
    assert.match(String(body.error), /changed meanwhile/);
    assert.equal(racing.t.packages.filter((p) => p.status === 'pending_destruction').length, 0);
    assert.equal(racing.revisionOf(web.id, NAME), current, "this writer's transaction rolled back (in memory, the rival's bump with it)");
  });

  it('a delete-protected name is 403 whatever the _rev, and removes nothing', async () => {
    protection.protectedDelete.add(NAME);
    for (const anyRev of [rev(store.revisionOf(web.id, NAME)!), 'abc']) {
      const body = await refused(unpublish.removePackage(caller, NAME, anyRev), 'package_deletion_protected');
      assert.equal(body.error, 'Package is deletion protected.');
    }
    assert.deepEqual(live(), ['1.0.0', '1.1.0', '2.0.0-rc.1']);
  });

  it('keepVersions removes the versions the body no longer lists, and keeps the tags of the others', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    const result = await unpublish.keepVersions(caller, NAME, rev(current), { _id: NAME, _rev: rev(current), versions: { '1.0.0': {}, '1.1.0': {} } });
    assert.deepEqual(result, { removed: ['2.0.0-rc.1'], rev: rev(current + 1) });
    assert.deepEqual(live(), ['1.0.0', '1.1.0']);
    assert.deepEqual(store.tagMap(web.id, NAME), { latest: '1.1.0' });
  });

  it('keepVersions listing every version changes nothing and keeps the _rev', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    const versions = { '1.0.0': {}, '1.1.0': {}, '2.0.0-rc.1': {} };
    assert.deepEqual(await unpublish.keepVersions(caller, NAME, rev(current), { versions }), { removed: [], rev: rev(current) });
    assert.equal(store.revisionOf(web.id, NAME), current);
    assert.deepEqual(audit.events, []);
  });

  it('keepVersions refuses a body without a versions object (npm owner add) before opening a transaction', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    for (const body of [{ _id: NAME, _rev: rev(current), maintainers: [] }, null, { versions: [] }, 'text']) {
      await refused(unpublish.keepVersions(caller, NAME, rev(current), body), 'unpublish_body_invalid');
    }
    assert.equal(store.transactions, 0);
    assert.deepEqual(live(), ['1.0.0', '1.1.0', '2.0.0-rc.1']);
  });

  it('removeTarball removes the version owning the file; an unknown file is 404 Package file not found', async () => {
    const current = store.revisionOf(web.id, NAME)!;
    assert.deepEqual(await unpublish.removeTarball(caller, NAME, `${NAME}-1.1.0.tgz`, rev(current)), { removed: ['1.1.0'], rev: rev(current + 1) });
    assert.deepEqual(live(), ['1.0.0', '2.0.0-rc.1']);
    assert.deepEqual(store.tagMap(web.id, NAME), { next: '2.0.0-rc.1' }, 'the tag of the removed version goes with it');
    // The same file again: its version is gone.
    const body = await refused(unpublish.removeTarball(caller, NAME, `${NAME}-1.1.0.tgz`, rev(current + 1)), 'not_found');
    assert.equal(body.error, 'Package file not found');
  });

  it('a name never published here is 404 Package not found', async () => {
    const body = await refused(unpublish.removePackage(caller, '@acme/other', '1-0000000000000000'), 'not_found');
    assert.equal(body.error, 'Package not found');
    // Every version retired already: the revision exists, the package does not.
    const current = store.revisionOf(web.id, NAME)!;
    await unpublish.removePackage(caller, NAME, rev(current));
    await refused(unpublish.removePackage(caller, NAME, rev(current + 1)), 'not_found');
  });
});
