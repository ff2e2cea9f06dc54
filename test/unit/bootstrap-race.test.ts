/** Two instances bootstrapping one empty database: the one that loses the race uses the winner's root. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from '../../src/domain/errors.js';
import { BootstrapService } from '../../src/services/bootstrap.service.js';
import type { TokensService } from '../../src/services/tokens.service.js';
import type { UsersService } from '../../src/services/users.service.js';

const root = { id: 1, username: 'root' };

/** Users as the losing instance sees them: empty when it looks, taken when it creates. */
function racingUsers(failure: Error): UsersService {
  let looked = false;
  return {
    byUsername: async () => {
      const seen = looked ? root : undefined;
      looked = true;
      return seen;
    },
    count: async () => 0,
    create: async () => {
      throw failure;
    },
  } as unknown as UsersService;
}

const tokens = { ensurePersonal: async () => undefined } as unknown as TokensService;

describe('bootstrap race', () => {
  for (const [how, failure] of [
    ['a unique-constraint conflict', errors.usernameTaken()],
    ['a "has already been taken" validation error', errors.validation({ username: ['has already been taken'] })],
  ] as const) {
    it(`uses the other instance's root after ${how}`, async () => {
      const result = await new BootstrapService(racingUsers(failure), tokens).run({ rootToken: 'configured-token-0123456789' });
      assert.deepEqual(result, { created: false });
    });
  }

  it('still fails when root does not exist after all', async () => {
    const users = { byUsername: async () => undefined, count: async () => 0, create: async () => Promise.reject(errors.validation({ email: ['is invalid'] })) };
    await assert.rejects(new BootstrapService(users as unknown as UsersService, tokens).run({}), /is invalid|Validation|message/);
  });
});
