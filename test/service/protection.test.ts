/**
 * Package protection rules in `ProtectionService` against memory ports: who may manage them, what a rule must say,
 * and the one check every push and delete goes through (`require`): which rules match a name, and which roles and
 * callers they stop. protection-rules and protection-bypass (integration) show the same through every route.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Identity } from '../../src/domain/access/identity.js';
import type { PackageType } from '../../src/domain/records.js';
import { ProtectionService, type PackageWrite, type ProtectionRuleInput } from '../../src/services/protection.service.js';
import { TestClock } from '../helpers/clock.js';
import { memoryAccess, memoryPorts, projectContext, projectFixture, userIdentity, type ProjectFixture } from '../helpers/memory-ports.js';
import { refused } from '../helpers/refusals.js';

// Users by role on the project: 1 Developer, 2 Maintainer, 3 Owner; 4 is an administrator without a membership.
const developer = userIdentity({ id: 1, username: 'dev' });
const maintainer = userIdentity({ id: 2, username: 'maint' });
const owner = userIdentity({ id: 3, username: 'owner' });
const admin = userIdentity({ id: 4, username: 'root' }, true);
const deployToken: Identity = Object.freeze({
  kind: 'deploy_token', tokenId: 9, username: 'gitlab+deploy-token-9', scopes: ['write_package_registry'] as const, projectId: 10, groupId: null,
});

describe('package protection (service tier)', () => {
  let ports: ReturnType<typeof memoryPorts>;
  let fixture: ProjectFixture;
  let protection: ProtectionService;

  beforeEach(() => {
    const clock = new TestClock();
    ports = memoryPorts(clock);
    fixture = projectFixture(10, 'acme/web', [1], { 1: 30, 2: 40, 3: 50 });
    protection = new ProtectionService({ db: ports.db, rules: ports.rules, access: memoryAccess([fixture]), clock, audit: ports.audit });
  });

  const rule = (input: ProtectionRuleInput) => protection.create(maintainer, '10', input);
  const write = (identity: Identity, action: 'push' | 'delete', name: string, type: PackageType = 'npm', surface: PackageWrite['surface'] = 'npm') =>
    protection.require({ action, identity, project: fixture.project, ctx: projectContext(fixture, identity), type, name, surface });

  describe('managing rules', () => {
    it("is a Maintainer's right: a Developer is refused, an anonymous caller must sign in, a stranger finds no project", async () => {
      const input = { package_name_pattern: '@acme/*', package_type: 'npm', minimum_access_level_for_push: 'maintainer' };
      await refused(protection.create(developer, '10', input), 'insufficient_access');
      await refused(protection.list({ kind: 'anonymous' }, '10'), 'unauthorized');
      await refused(protection.list(userIdentity({ id: 99, username: 'stranger' }), '10'), 'not_found');
      const created = await protection.create(maintainer, 'acme/web', input);
      assert.deepEqual(await protection.list(owner, '10'), [created]);
    });

    it('needs a pattern and a type, one of the known types, and a level for push or delete', async () => {
      assert.deepEqual(await refused(rule({}), 'param_invalid'), { error: 'package_name_pattern is missing, package_type is missing' });
      assert.deepEqual(await refused(rule({ package_name_pattern: 'x', package_type: 'maven', minimum_access_level_for_push: 'owner' }), 'param_invalid'), {
        error: 'package_type does not have a valid value',
      });
      assert.deepEqual(await refused(rule({ package_name_pattern: 'x', package_type: 'npm' }), 'validation_failed'), {
        message: { base: ['A rule must have at least a minimum access role for push or delete.'] },
      });
      assert.deepEqual(await refused(rule({ package_name_pattern: '   ', package_type: 'npm', minimum_access_level_for_push: 'owner' }), 'validation_failed'), {
        message: { package_name_pattern: ["can't be blank"] },
      });
      await refused(rule({ package_name_pattern: 'x'.repeat(256), package_type: 'npm', minimum_access_level_for_push: 'owner' }), 'validation_failed');
      assert.equal(ports.db.t.rules.length, 0);
    });

    it('takes only the levels GitLab allows: Maintainer may guard a push, not a delete', async () => {
      assert.deepEqual(await refused(rule({ package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_delete: 'maintainer' }), 'param_invalid'), {
        error: 'minimum_access_level_for_delete does not have a valid value',
      });
      await refused(rule({ package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_push: 'developer' }), 'param_invalid');
      const r = await rule({ package_name_pattern: ' x ', package_type: 'helm', minimum_access_level_for_push: '', minimum_access_level_for_delete: 'admin' });
      assert.equal(r.package_name_pattern, 'x', 'the pattern is trimmed');
      assert.equal(r.minimum_access_level_for_push, null, 'an empty level is none');
    });

    it('refuses a pattern the project already has for that type, and allows it for the other type', async () => {
      await rule({ package_name_pattern: 'lib-*', package_type: 'npm', minimum_access_level_for_push: 'owner' });
      assert.deepEqual(await refused(rule({ package_name_pattern: 'lib-*', package_type: 'npm', minimum_access_level_for_delete: 'owner' }), 'validation_failed'), {
        message: { package_name_pattern: ['has already been taken'] },
      });
      await rule({ package_name_pattern: 'lib-*', package_type: 'helm', minimum_access_level_for_push: 'owner' });
      assert.equal(ports.db.t.rules.length, 2);
    });

    it('keeps a rule guarding something: an update may not clear its last level', async () => {
      const r = await rule({ package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_push: 'owner' });
      await refused(protection.update(maintainer, '10', r.id, { minimum_access_level_for_push: null }), 'validation_failed');
      const moved = await protection.update(maintainer, '10', r.id, { minimum_access_level_for_push: null, minimum_access_level_for_delete: 'owner' });
      assert.equal(moved.minimum_access_level_for_push, null);
      assert.equal(moved.minimum_access_level_for_delete, 'owner');
      await refused(protection.update(maintainer, '10', 999, { minimum_access_level_for_push: 'owner' }), 'not_found');
    });

    it('records each change with the rule before and after', async () => {
      const r = await rule({ package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_push: 'maintainer' });
      await protection.update(maintainer, '10', r.id, { minimum_access_level_for_push: 'owner' });
      await protection.remove(maintainer, '10', r.id);
      await refused(protection.remove(maintainer, '10', r.id), 'not_found');
      const events = ports.events();
      assert.deepEqual(
        events.map((e) => e.event_name),
        ['package_protection_rule_created', 'package_protection_rule_updated', 'package_protection_rule_deleted'],
      );
      assert.equal(events[1]?.details.from, 'npm x (push: maintainer, delete: any)');
      assert.equal(events[1]?.details.to, 'npm x (push: owner, delete: any)');
      assert.equal(events[0]?.entity_path, 'acme/web');
    });
  });

  describe('the check on every write', () => {
    it('lets anything through while no rule matches the name and type', async () => {
      await rule({ package_name_pattern: '@acme/core', package_type: 'npm', minimum_access_level_for_push: 'owner' });
      await write(developer, 'push', '@acme/core-utils');
      await write(developer, 'push', '@acme/core', 'helm');
      await write(deployToken, 'delete', '@acme/core');
    });

    it("refuses a role below the rule's and allows the rule's role and above", async () => {
      await rule({ package_name_pattern: '@acme/*', package_type: 'npm', minimum_access_level_for_push: 'maintainer', minimum_access_level_for_delete: 'owner' });
      await refused(write(developer, 'push', '@acme/web'), 'package_protected');
      await write(maintainer, 'push', '@acme/web');
      await write(owner, 'push', '@acme/web');
      await refused(write(maintainer, 'delete', '@acme/web'), 'package_deletion_protected');
      await write(owner, 'delete', '@acme/web');
    });

    it('matches the whole name, case-insensitively, with * for any run of characters', async () => {
      await rule({ package_name_pattern: '@Acme/*-internal', package_type: 'npm', minimum_access_level_for_push: 'owner' });
      await refused(write(maintainer, 'push', '@acme/billing-internal'), 'package_protected');
      await refused(write(maintainer, 'push', '@ACME/-INTERNAL'), 'package_protected');
      await write(maintainer, 'push', '@acme/billing-internal-2');
      await write(maintainer, 'push', 'x@acme/billing-internal');
    });

    it('takes the strictest of several matching rules', async () => {
      await rule({ package_name_pattern: '*', package_type: 'npm', minimum_access_level_for_push: 'maintainer' });
      await rule({ package_name_pattern: '@acme/release-*', package_type: 'npm', minimum_access_level_for_push: 'owner' });
      await write(maintainer, 'push', '@acme/web');
      await refused(write(maintainer, 'push', '@acme/release-1'), 'package_protected');
      await write(owner, 'push', '@acme/release-1');
    });

    it("refuses a deploy token under any matching rule (it has no role), and never an administrator, even at 'admin'", async () => {
      await rule({ package_name_pattern: 'chart', package_type: 'helm', minimum_access_level_for_push: 'maintainer', minimum_access_level_for_delete: 'admin' });
      await refused(write(deployToken, 'push', 'chart', 'helm'), 'package_protected');
      await refused(write(owner, 'delete', 'chart', 'helm'), 'package_deletion_protected');
      await write(admin, 'delete', 'chart', 'helm');
    });

    it("answers in the shape of the route family that asked", async () => {
      await rule({ package_name_pattern: 'p', package_type: 'npm', minimum_access_level_for_push: 'owner' });
      const npm = await refused(write(developer, 'push', 'p', 'npm', 'npm'), 'package_protected');
      const api = await refused(write(developer, 'push', 'p', 'npm', 'api'), 'package_protected');
      assert.notDeepEqual(npm, api);
      assert.deepEqual(api, { message: '403 Forbidden - Package protected.' });
    });
  });
});
