/**
 * A token in the query string is masked in the log whatever spelling reaches the server: the query parser decodes
 * parameter names, so `private%5Ftoken` and `%70rivate_token` authenticate exactly like `private_token` and must be
 * masked like it; other spellings (upper case) are not credentials but are masked all the same.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';

for (const dialect of DIALECTS) {
  describe(`credentials in logged URLs (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
    });
    after(() => t.close());

    const requestLines = () =>
      t.logs
        .flatMap((chunk) => chunk.split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request');

    it('percent-encoded parameter names are accepted as credentials, and masked in the access line', async () => {
      for (const name of ['private%5Ftoken', '%70rivate_token', 'private%5ftoken', '%70%72%69%76%61%74%65%5f%74%6f%6b%65%6e', 'access%5Ftoken', 'bearer%5ftoken']) {
        t.logs.length = 0;
        const r = await t.call('GET', `/api/v4/user?${name}=${ROOT_TOKEN}&page=1`);
        assert.equal(r.status, 200, `${name} authenticates: ${r.text}`);
        assert.equal(r.body.username, 'root');
        const all = t.logs.join('');
        assert.ok(!all.includes(ROOT_TOKEN), `${name}: the token reached the log: ${all}`);
        const [line] = requestLines();
        assert.equal(line!.url, `/api/v4/user?${name}=[REDACTED]&page=1`);
      }
    });

    it('other spellings of secret names are masked too, on any route and status', async () => {
      const secret = 'not-a-real-token-but-secret-0001';
      for (const name of ['PRIVATE_TOKEN', 'Private%5FToken', 'job_token', 'JOB%5FTOKEN', 'deploy_token', 'token', 'password', 'PASSWORD', 'private_token%5B%5D', 'private_token[]', 'secret']) {
        t.logs.length = 0;
        await t.call('GET', `/api/v4/projects/1/packages/npm/foo?${name}=${secret}`);
        await t.call('GET', `/no/such/route?a=1&${name}=${secret}#frag`);
        const all = t.logs.join('');
        assert.ok(!all.includes(secret), `${name}: the secret reached the log: ${all}`);
        assert.ok(requestLines().every((l) => String(l.url).includes('=[REDACTED]')), name);
      }
    });

    it('upper-case names are not credentials (GitLab reads parameters case-sensitively)', async () => {
      const r = await t.call('GET', `/api/v4/user?PRIVATE_TOKEN=${ROOT_TOKEN}`);
      assert.equal(r.status, 401);
    });

    it('ordinary parameters are left alone', async () => {
      t.logs.length = 0;
      await t.call('GET', '/api/v4/users?search=tokenizer&username=passwordless&tokens=1', { token: ROOT_TOKEN });
      assert.equal(requestLines()[0]!.url, '/api/v4/users?search=tokenizer&username=passwordless&tokens=1');
    });
  });
}
