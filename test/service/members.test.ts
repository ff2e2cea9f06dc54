/**
 * Membership rules of `MembersService` against memory ports: who may add, change and remove members, the Owner
 * role's protection, inherited roles, expiry dates. management-members (integration) shows the same over HTTP.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { AccessLevel } from '../../src/domain/access/identity.js';
import type { UserRow } from '../../src/domain/records.js';
import { MembersService, type MemberSource } from '../../src/services/members.service.js';
import { TestClock } from '../helpers/clock.js';
import { memoryAccess, memoryPorts, userIdentity } from '../helpers/memory-ports.js';
import { refused } from '../helpers/refusals.js';

const GROUP = 100; // the project's parent group
const PROJECT = 7;

describe('membership rules (service tier)', () => {
  let clock: TestClock;
  let ports: ReturnType<typeof memoryPorts>;
  let members: MembersService;
  let owner: UserRow;
  let maintainer: UserRow;
  let carol: UserRow;
  let dave: UserRow;

  /** The project as the caller sees it: their role on it decides what they may do. */
  const project = (callerLevel: AccessLevel | null): MemberSource => ({ type: 'project', id: PROJECT, inheritedFrom: [GROUP], callerLevel });

  beforeEach(async () => {
    clock = new TestClock();
    ports = memoryPorts(clock);
    members = new MembersService({ db: ports.db, members: ports.members, users: ports.users, access: memoryAccess([]), clock, audit: ports.audit });
    owner = await ports.users.add('olivia');
    maintainer = await ports.users.add('max');
    carol = await ports.users.add('carol');
    dave = await ports.users.add('dave');
    await ports.members.insert(ports.db, { user_id: owner.id, source_type: 'project', source_id: PROJECT, access_level: 50, expires_at: null, created_by_id: null, created_at: '' });
    await ports.members.insert(ports.db, { user_id: maintainer.id, source_type: 'project', source_id: PROJECT, access_level: 40, expires_at: null, created_by_id: null, created_at: '' });
  });

  describe('adding', () => {
    it('needs Maintainer; a Developer is refused and an anonymous caller must sign in', async () => {
      await refused(members.add(userIdentity(carol), project(30), { user_id: dave.id, access_level: 30 }), 'insufficient_access');
      await refused(members.add({ kind: 'anonymous' }, project(null), { user_id: dave.id, access_level: 30 }), 'unauthorized');
      const added = await members.add(userIdentity(maintainer), project(40), { username: 'DAVE', access_level: 30 });
      assert.equal(added.user_id, dave.id);
      assert.equal(added.username, 'dave');
      assert.equal(added.created_by_id, maintainer.id);
    });

    it('hands out the Owner role from Owners (and administrators) only', async () => {
      await refused(members.add(userIdentity(maintainer), project(40), { user_id: carol.id, access_level: 50 }), 'insufficient_access');
      assert.equal((await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 50 })).access_level, 50);
      const root = userIdentity({ id: 999, username: 'root' }, true);
      assert.equal((await members.add(root, project(null), { user_id: dave.id, access_level: 50 })).access_level, 50);
    });

    it('takes one user, by id or username, a GitLab access level, and no one twice', async () => {
      const me = userIdentity(owner);
      assert.deepEqual(await refused(members.add(me, project(50), { access_level: 30 }), 'param_invalid'), {
        error: 'user_id, username are missing, at least one parameter must be provided',
      });
      await refused(members.add(me, project(50), { user_id: carol.id, username: 'carol', access_level: 30 }), 'param_invalid');
      assert.deepEqual(await refused(members.add(me, project(50), { user_id: carol.id, access_level: 35 }), 'param_invalid'), {
        error: 'access_level does not have a valid value',
      });
      await refused(members.add(me, project(50), { username: 'nobody', access_level: 30 }), 'not_found');
      await refused(members.add(me, project(50), { user_id: maintainer.id, access_level: 30 }), 'member_exists');
    });

    it('refuses a role below the one the user inherits from a group above, naming it', async () => {
      await ports.members.insert(ports.db, { user_id: carol.id, source_type: 'namespace', source_id: GROUP, access_level: 40, expires_at: null, created_by_id: null, created_at: '' });
      assert.deepEqual(await refused(members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 30 }), 'validation_failed'), {
        message: { access_level: ['should be greater than or equal to Maintainer inherited membership from group'] },
      });
      assert.equal((await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 40 })).access_level, 40);
    });

    it('does not count an inherited membership that has expired', async () => {
      await ports.members.insert(ports.db, { user_id: carol.id, source_type: 'namespace', source_id: GROUP, access_level: 50, expires_at: '2026-06-01', created_by_id: null, created_at: '' });
      assert.equal((await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 10 })).access_level, 10);
    });

    it('takes an expiry date after today; none, null and empty mean it never expires', async () => {
      const me = userIdentity(owner);
      for (const expires_at of ['2026-06-01', '2020-01-01']) {
        assert.deepEqual(await refused(members.add(me, project(50), { user_id: carol.id, access_level: 30, expires_at }), 'validation_failed'), {
          message: { expires_at: ['cannot be a date in the past'] },
        });
      }
      await refused(members.add(me, project(50), { user_id: carol.id, access_level: 30, expires_at: '2026-13-01' }), 'param_invalid');
      assert.equal((await members.add(me, project(50), { user_id: carol.id, access_level: 30, expires_at: '2026-06-02' })).expires_at, '2026-06-02');
      assert.equal((await members.add(me, project(50), { user_id: dave.id, access_level: 30, expires_at: '' })).expires_at, null);
    });

    it('records the addition with the role given', async () => {
      await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 20 });
      const [event] = ports.events();
      assert.equal(event?.event_name, 'member_created');
      assert.equal(event?.target_details, 'carol');
      assert.equal(event?.details.custom_message, 'Added carol as Reporter');
      assert.equal(event?.details.to, 'Reporter');
    });
  });

  describe('changing and removing', () => {
    it("lets only Owners change an Owner's role, so a Maintainer cannot demote the Owners above them", async () => {
      await refused(members.update(userIdentity(maintainer), project(40), owner.id, { access_level: 30 }), 'insufficient_access');
      assert.equal(ports.db.t.members.find((m) => m.user_id === owner.id)?.access_level, 50);
      const second = await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 50 });
      const demoted = await members.update(userIdentity(owner), project(50), second.user_id, { access_level: 40 });
      assert.equal(demoted.access_level, 40);
      assert.equal(ports.events().at(-1)?.details.custom_message, "Changed carol's role from Owner to Maintainer");
    });

    it('lets a Maintainer change roles below Owner, but not promote anyone to Owner', async () => {
      await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 30 });
      assert.equal((await members.update(userIdentity(maintainer), project(40), carol.id, { access_level: 20 })).access_level, 20);
      await refused(members.update(userIdentity(maintainer), project(40), carol.id, { access_level: 50 }), 'insufficient_access');
      await refused(members.update(userIdentity(maintainer), project(40), dave.id, { access_level: 20 }), 'not_found');
    });

    it('lets members leave on their own, and needs Maintainer to remove someone else', async () => {
      await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 30 });
      await members.add(userIdentity(owner), project(50), { user_id: dave.id, access_level: 30 });
      await refused(members.remove(userIdentity(carol), project(30), dave.id), 'insufficient_access');
      await members.remove(userIdentity(carol), project(30), carol.id);
      await members.remove(userIdentity(maintainer), project(40), dave.id);
      assert.deepEqual(
        ports.db.t.members.map((m) => m.user_id).sort(),
        [owner.id, maintainer.id].sort(),
      );
    });

    it('keeps Owners from being removed by a Maintainer; an Owner may remove one', async () => {
      await refused(members.remove(userIdentity(maintainer), project(40), owner.id), 'insufficient_access');
      await members.add(userIdentity(owner), project(50), { user_id: carol.id, access_level: 50 });
      await members.remove(userIdentity(owner), project(50), carol.id);
      assert.equal(ports.events().at(-1)?.details.custom_message, 'Removed carol (Owner)');
    });
  });
});
