/**
 * The token policy of `TokensService` against memory ports: scopes, expiry dates and the instance's lifetime limits,
 * the operator's exemption, deploy token names, and who may revoke what. The HTTP shapes of these answers are the
 * integration tier's (management-tokens, token-policy); here each rule is one call.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { digestToken } from '../../src/domain/access/tokens.js';
import { TokensService, type TokenPolicySettings } from '../../src/services/tokens.service.js';
import type { UserRow } from '../../src/domain/records.js';
import { TestClock } from '../helpers/clock.js';
import { memoryPorts, userIdentity } from '../helpers/memory-ports.js';
import { refused } from '../helpers/refusals.js';

type Policy = Awaited<ReturnType<TokenPolicySettings['get']>>;

/** Asserts that `p` rejects with the catalogue error `code`, and returns its body. */
describe('token policy (service tier)', () => {
  // 2026-06-01T12:00Z: "today" is 2026-06-01.
  let clock: TestClock;
  let ports: ReturnType<typeof memoryPorts>;
  let policy: Policy;
  let forgotten: string[];
  let tokens: TokensService;
  let alice: UserRow;
  let bob: UserRow;

  beforeEach(async () => {
    clock = new TestClock();
    ports = memoryPorts(clock);
    policy = { require_personal_access_token_expiry: true, max_personal_access_token_lifetime: null };
    forgotten = [];
    tokens = new TokensService({
      db: ports.db,
      tokens: ports.tokens,
      users: ports.users,
      identity: { forget: (digest) => void forgotten.push(digest) },
      clock,
      audit: ports.audit,
      settings: { get: async () => policy },
    });
    alice = await ports.users.add('alice');
    bob = await ports.users.add('bob');
  });

  describe('personal access tokens: scopes and name', () => {
    it('stores the scopes once each, and the digest of the secret it returns, never the secret', async () => {
      const { row, token } = await tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api', 'read_api', 'api'] });
      assert.deepEqual(JSON.parse(row.scopes), ['api', 'read_api']);
      assert.equal(row.token_digest, digestToken(token));
      assert.equal(ports.db.t.pats.length, 1);
      assert.ok(!JSON.stringify(ports.db.t).includes(token), 'the secret is stored nowhere');
    });

    it('refuses no scopes, an unknown scope and a blank name', async () => {
      assert.deepEqual(await refused(tokens.createPersonal(alice.id, { name: 'ci', scopes: [] }), 'param_invalid'), { error: 'scopes is missing' });
      assert.deepEqual(await refused(tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api', 'sudo'] }), 'param_invalid'), {
        error: 'scopes does not have a valid value',
      });
      assert.deepEqual(await refused(tokens.createPersonal(alice.id, { name: '  ', scopes: ['api'] }), 'validation_failed'), {
        message: { name: ["can't be blank"] },
      });
      assert.equal(ports.db.t.pats.length, 0);
    });

    it('refuses a token for a user that does not exist', async () => {
      await refused(tokens.createPersonal(999, { name: 'ci', scopes: ['api'] }), 'not_found');
    });
  });

  describe('personal access tokens: expiry', () => {
    it('gives a token asked for without a date the longest lifetime: 365 days while expiry is required', async () => {
      for (const expires_at of [undefined, null, '']) {
        const { row } = await tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api'], expires_at });
        assert.equal(row.expires_at, '2027-06-01');
      }
    });

    it("lowers that to the instance's maximum lifetime, and refuses a date past it, naming the last date allowed", async () => {
      policy = { require_personal_access_token_expiry: true, max_personal_access_token_lifetime: 30 };
      assert.equal((await tokens.createPersonal(alice.id, { name: 'a', scopes: ['api'] })).row.expires_at, '2026-07-01');
      assert.equal((await tokens.createPersonal(alice.id, { name: 'b', scopes: ['api'], expires_at: '2026-07-01' })).row.expires_at, '2026-07-01');
      assert.deepEqual(await refused(tokens.createPersonal(alice.id, { name: 'c', scopes: ['api'], expires_at: '2026-07-02' }), 'token_expiry_too_late'), {
        message: 'Expiration date must be before 2026-07-01',
      });
    });

    it('lets a token live for ever once an administrator lifts the requirement, unless a maximum is still set', async () => {
      policy = { require_personal_access_token_expiry: false, max_personal_access_token_lifetime: null };
      assert.equal((await tokens.createPersonal(alice.id, { name: 'a', scopes: ['api'] })).row.expires_at, null);
      assert.equal((await tokens.createPersonal(alice.id, { name: 'b', scopes: ['api'], expires_at: '2030-01-01' })).row.expires_at, '2030-01-01');
      policy = { require_personal_access_token_expiry: false, max_personal_access_token_lifetime: 10 };
      assert.equal((await tokens.createPersonal(alice.id, { name: 'c', scopes: ['api'] })).row.expires_at, '2026-06-11');
      await refused(tokens.createPersonal(alice.id, { name: 'd', scopes: ['api'], expires_at: '2026-06-12' }), 'token_expiry_too_late');
    });

    it('refuses today, a past date and a date that is not in the calendar', async () => {
      for (const expires_at of ['2026-06-01', '2025-12-31']) {
        assert.deepEqual(await refused(tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api'], expires_at }), 'validation_failed'), {
          message: { expires_at: ['must be in the future'] },
        });
      }
      for (const expires_at of ['2026-02-30', '2026-6-1', 'tomorrow', '2026-07-01T00:00:00Z']) {
        assert.deepEqual(await refused(tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api'], expires_at }), 'param_invalid'), {
          error: 'expires_at is invalid',
        });
      }
    });

    it("follows the clock: tomorrow is accepted, and the default moves with today's date", async () => {
      assert.equal((await tokens.createPersonal(alice.id, { name: 'a', scopes: ['api'], expires_at: '2026-06-02' })).row.expires_at, '2026-06-02');
      clock.advance(86_400_000);
      await refused(tokens.createPersonal(alice.id, { name: 'b', scopes: ['api'], expires_at: '2026-06-02' }), 'validation_failed');
      assert.equal((await tokens.createPersonal(alice.id, { name: 'c', scopes: ['api'] })).row.expires_at, '2027-06-02');
    });
  });

  describe("personal access tokens: the operator's", () => {
    it('is not bound by the maximum: null is "never", a far date is kept, and no date is 365 days', async () => {
      policy = { require_personal_access_token_expiry: true, max_personal_access_token_lifetime: 7 };
      assert.equal((await tokens.createPersonal(alice.id, { name: 'a', scopes: ['api'], operator: true, expires_at: null })).row.expires_at, null);
      assert.equal((await tokens.createPersonal(alice.id, { name: 'b', scopes: ['api'], operator: true, expires_at: '2031-01-01' })).row.expires_at, '2031-01-01');
      assert.equal((await tokens.createPersonal(alice.id, { name: 'c', scopes: ['api'], operator: true })).row.expires_at, '2027-06-01');
    });

    it('still needs valid scopes and a date in the future', async () => {
      await refused(tokens.createPersonal(alice.id, { name: 'a', scopes: ['write_registry'], operator: true }), 'param_invalid');
      await refused(tokens.createPersonal(alice.id, { name: 'b', scopes: ['api'], operator: true, expires_at: '2026-05-31' }), 'validation_failed');
    });

    it('without the flag, null is the default lifetime, not "never"', async () => {
      assert.equal((await tokens.createPersonal(alice.id, { name: 'a', scopes: ['api'], expires_at: null })).row.expires_at, '2027-06-01');
    });
  });

  it('records who created which token, with its scopes and expiry, and never the secret', async () => {
    const { row, token } = await tokens.createPersonal(alice.id, { name: 'deploy bot', scopes: ['read_api'] });
    const [event] = ports.events();
    assert.equal(event?.event_name, 'personal_access_token_created');
    assert.equal(event?.entity_path, 'alice');
    assert.equal(event?.target_id, row.id);
    assert.equal(event?.details.custom_message, 'Created personal access token with scopes read_api, expiring 2027-06-01');
    assert.ok(!JSON.stringify(ports.events()).includes(token));
  });

  describe('revoking personal access tokens', () => {
    it("lets the owner and an administrator revoke, and refuses someone else's; the identity cache forgets it at once", async () => {
      const { row } = await tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api'] });
      await refused(tokens.revokePersonal(userIdentity(bob), row.id), 'revoke_not_permitted');
      assert.equal(ports.db.t.pats[0]?.revoked, 0);
      await tokens.revokePersonal(userIdentity(alice), row.id);
      assert.equal(ports.db.t.pats[0]?.revoked, 1);
      assert.deepEqual(forgotten, [row.token_digest]);
      await refused(tokens.revokePersonal(userIdentity(bob, true), 999), 'not_found');
    });

    it("hides other users' tokens from a non-administrator as 401, whether or not they exist", async () => {
      const { row } = await tokens.createPersonal(alice.id, { name: 'ci', scopes: ['api'] });
      await refused(tokens.getPersonal(userIdentity(bob), row.id), 'unauthorized');
      await refused(tokens.getPersonal(userIdentity(bob), 999), 'unauthorized');
      assert.equal((await tokens.getPersonal(userIdentity(bob, true), row.id)).id, row.id);
      await refused(tokens.getPersonal(userIdentity(bob, true), 999), 'not_found');
    });

    it('npm logout revokes the personal token of that secret as its owner, and leaves unknown secrets alone', async () => {
      const { token } = await tokens.createPersonal(alice.id, { name: 'npm', scopes: ['api'] });
      assert.equal(await tokens.revokePersonalBySecret('glpat-not-a-token'), false);
      assert.equal(await tokens.revokePersonalBySecret(token), true);
      assert.equal(await tokens.revokePersonalBySecret(token), false, 'a revoked token is not revoked twice');
      const revoked = ports.events().find((e) => e.event_name === 'personal_access_token_revoked');
      assert.equal(revoked?.author_name, 'alice');
      assert.equal(revoked?.details.custom_message, 'Revoked personal access token (npm logout)');
    });
  });

  describe('deploy tokens', () => {
    it("is named after its id unless given a username, and a user's username is refused", async () => {
      const { row } = await tokens.createDeploy({ projectId: 7 }, { name: 'ci', scopes: ['read_package_registry'] });
      assert.equal(row.username, `gitlab+deploy-token-${row.id}`);
      assert.equal(ports.db.t.deployTokens[0]?.username, row.username);
      const named = await tokens.createDeploy({ groupId: 3 }, { name: 'ci', scopes: ['write_package_registry'], username: 'robot.1' });
      assert.equal(named.row.username, 'robot.1');
      assert.deepEqual(await refused(tokens.createDeploy({ projectId: 7 }, { name: 'ci', scopes: ['read_package_registry'], username: 'Alice' }), 'validation_failed'), {
        message: { username: ['is already the username of a user'] },
      });
      await refused(tokens.createDeploy({ projectId: 7 }, { name: 'ci', scopes: ['read_package_registry'], username: 'a b' }), 'validation_failed');
      assert.deepEqual(
        ports.events().map((e) => e.event_name),
        ['deploy_token_created', 'group_deploy_token_created'],
      );
    });

    it('accepts a date or a date-time in the future as its expiry, and only deploy scopes', async () => {
      const day = await tokens.createDeploy({ projectId: 7 }, { name: 'a', scopes: ['read_package_registry'], expires_at: '2026-06-02' });
      assert.equal(day.row.expires_at, '2026-06-02T00:00:00.000Z');
      const zoned = await tokens.createDeploy({ projectId: 7 }, { name: 'b', scopes: ['read_package_registry'], expires_at: '2026-06-01T14:00:00+01:00' });
      assert.equal(zoned.row.expires_at, '2026-06-01T13:00:00.000Z');
      await refused(tokens.createDeploy({ projectId: 7 }, { name: 'c', scopes: ['read_package_registry'], expires_at: '2026-06-01T11:59:59Z' }), 'validation_failed');
      await refused(tokens.createDeploy({ projectId: 7 }, { name: 'd', scopes: ['api'] }), 'param_invalid');
    });

    it("belongs to its project or group: another owner's token is not found, and revoking one deletes it", async () => {
      const { row } = await tokens.createDeploy({ projectId: 7 }, { name: 'ci', scopes: ['read_package_registry'] });
      await refused(tokens.getDeploy({ projectId: 8 }, row.id), 'not_found');
      await refused(tokens.revokeDeploy({ groupId: 7 }, row.id), 'not_found');
      await tokens.revokeDeploy({ projectId: 7 }, row.id);
      assert.equal(ports.db.t.deployTokens.length, 0);
      assert.deepEqual(forgotten, [row.token_digest]);
    });
  });
});
