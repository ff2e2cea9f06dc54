/** Which token a request presents, in which form (docs/design/gitlab-compatibility.md#npm-credential-lookup, #helm-credentials). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractCredential } from '../../src/domain/access/credentials.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('standard credentials (npm and management routes)', () => {
  it('reads Authorization: Bearer, PRIVATE-TOKEN, Deploy-Token and the token query parameters', () => {
    assert.deepEqual(extractCredential({ authorization: 'Bearer abc' }, {}, 'standard'), { token: 'abc', source: 'bearer' });
    assert.deepEqual(extractCredential({ 'private-token': 'abc' }, {}, 'standard'), { token: 'abc', source: 'private-token' });
    assert.deepEqual(extractCredential({ 'deploy-token': 'abc' }, {}, 'standard'), { token: 'abc', source: 'deploy-token-header' });
    for (const q of ['private_token', 'access_token', 'bearer_token']) {
      assert.deepEqual(extractCredential({}, { [q]: 'abc' }, 'standard'), { token: 'abc', source: 'query' });
    }
  });
  it('takes the Basic password as the token whatever the username, and it wins over other forms', () => {
    assert.deepEqual(extractCredential({ authorization: basic('anyone', 'tok') }, {}, 'standard'), { token: 'tok', source: 'basic', basicUsername: 'anyone' });
    assert.equal(extractCredential({ authorization: basic('x', 'tok'), 'private-token': 'other' }, {}, 'standard')?.token, 'tok');
  });
  it('prefers Deploy-Token over Bearer, as GitLab looks up deploy tokens first', () => {
    assert.equal(extractCredential({ authorization: 'Bearer b', 'deploy-token': 'd' }, {}, 'standard')?.token, 'd');
  });
  it('is anonymous without credentials, or with an empty Basic password', () => {
    assert.equal(extractCredential({}, {}, 'standard'), undefined);
    assert.equal(extractCredential({ authorization: basic('user', '') }, {}, 'standard'), undefined);
  });
  it('keeps a colon inside a Basic password', () => {
    assert.equal(extractCredential({ authorization: basic('u', 'a:b') }, {}, 'standard')?.token, 'a:b');
  });
});

describe('Helm credentials: HTTP Basic only (docs/design/gitlab-compatibility.md#helm-credentials)', () => {
  it('ignores Bearer, PRIVATE-TOKEN, Deploy-Token and query tokens', () => {
    assert.equal(extractCredential({ authorization: 'Bearer abc' }, {}, 'basic-only'), undefined);
    assert.equal(extractCredential({ 'private-token': 'abc', 'deploy-token': 'x' }, { private_token: 'y' }, 'basic-only'), undefined);
  });
  it('needs both a username and a password', () => {
    assert.equal(extractCredential({ authorization: basic('', 'tok') }, {}, 'basic-only'), undefined);
    assert.equal(extractCredential({ authorization: basic('u', '') }, {}, 'basic-only'), undefined);
    assert.equal(extractCredential({ authorization: basic('u', 'tok') }, {}, 'basic-only')?.token, 'tok');
  });
});
