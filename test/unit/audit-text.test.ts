/** What the audit log keeps of client-supplied text, and who it names as the author. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorOf, boundedText, UNAUTHENTICATED_AUTHOR } from '../../src/domain/audit.js';
import { ANONYMOUS } from '../../src/domain/access/identity.js';

describe('boundedText', () => {
  it('keeps short text as it is', () => {
    assert.equal(boundedText('alice@example.com', 100), 'alice@example.com');
    assert.equal(boundedText('', 100), '');
  });

  it('replaces control and formatting characters, line and paragraph separators by spaces', () => {
    assert.equal(boundedText('a\nb\r\tc\u0000d\u2028e\u2029f\u202eg\u200bh\u0085i', 100), 'a b  c d e f g h i');
  });

  it('cuts at the limit in code points, marking the cut, whatever the input size', () => {
    assert.equal(boundedText('x'.repeat(100), 100), 'x'.repeat(100));
    assert.equal(boundedText('x'.repeat(101), 100), `${'x'.repeat(99)}…`);
    const huge = boundedText('y'.repeat(5_000_000), 100);
    assert.equal(Array.from(huge).length, 100);
    // Astral characters count once and are never split into lone surrogates.
    const emoji = boundedText('😀'.repeat(150), 100);
    assert.equal(Array.from(emoji).length, 100);
    assert.equal(emoji, `${'😀'.repeat(99)}…`);
    assert.equal(boundedText('😀'.repeat(100), 100), '😀'.repeat(100));
  });
});

describe('authorOf', () => {
  it('names users by id and username, deploy tokens by GitLab’s deploy-token name, others as unauthenticated', () => {
    assert.deepEqual(authorOf({ kind: 'user', userId: 7, username: 'alice', isAdmin: false, scopes: ['api'], tokenId: 3 }), { id: 7, name: 'alice', type: 'User' });
    assert.deepEqual(
      authorOf({ kind: 'deploy_token', tokenId: 12, username: 'alice', scopes: ['write_package_registry'], projectId: 1, groupId: null }),
      { id: null, name: 'gitlab+deploy-token-12', type: 'DeployToken' },
    );
    assert.equal(authorOf(ANONYMOUS), UNAUTHENTICATED_AUTHOR);
  });
});
