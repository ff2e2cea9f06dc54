/** A caller's role on a project from their memberships (domain/access/memberships.ts), and the listings' scope. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listingScope } from '../../src/domain/access/abilities.js';
import { ANONYMOUS } from '../../src/domain/access/identity.js';
import { MembershipLevels } from '../../src/domain/access/memberships.js';

describe('MembershipLevels', () => {
  const levels = new MembershipLevels([
    { source_type: 'namespace', source_id: 1, level: 10 },
    { source_type: 'namespace', source_id: 2, level: 30 },
    { source_type: 'project', source_id: 100, level: 20 },
    // A project id equal to a namespace id is a different source.
    { source_type: 'project', source_id: 2, level: 50 },
  ]);

  it('takes the highest of the project’s own membership and every ancestor namespace’s', () => {
    assert.equal(levels.of(100, [1, 2, 3]), 30, 'inherited from namespace 2');
    assert.equal(levels.of(100, [1]), 20, 'the project’s own beats the root’s');
    assert.equal(levels.of(101, [1]), 10, 'inherited from the root only');
  });

  it('is null without any membership that applies, and for callers who are members of nothing', () => {
    assert.equal(levels.of(101, [3, 4]), null);
    assert.equal(levels.of(2, []), 50, 'project 2 is a project source, not namespace 2');
    assert.equal(MembershipLevels.NONE.of(100, [1, 2]), null);
  });

  it('keeps the highest level when a source appears twice', () => {
    const twice = new MembershipLevels([
      { source_type: 'namespace', source_id: 1, level: 40 },
      { source_type: 'namespace', source_id: 1, level: 20 },
    ]);
    assert.equal(twice.of(9, [1]), 40);
  });
});

describe('listingScope', () => {
  it('lists everything to administrators, public rows to anonymous callers and deploy tokens, and scopes users', () => {
    const user = { kind: 'user', userId: 7, username: 'u', isAdmin: false, scopes: ['api'], tokenId: 1 } as const;
    assert.deepEqual(listingScope({ ...user, isAdmin: true }), { kind: 'all' });
    assert.deepEqual(listingScope(user), { kind: 'user', userId: 7 });
    assert.deepEqual(listingScope(ANONYMOUS), { kind: 'public' });
    assert.deepEqual(
      listingScope({ kind: 'deploy_token', tokenId: 9, username: 'd', scopes: ['read_package_registry'], projectId: 1, groupId: null }),
      { kind: 'public' },
    );
  });
});
