/** One structured line per request, and no token or password in any log line (issue 2, item 9). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';

const dialect = DIALECTS[0]!;

describe('request logging', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp(dialect);
  });
  after(async () => t.close());

  const lines = () => t.logs.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('writes exactly one line per request with request id, route, status and duration', async () => {
    t.logs.length = 0;
    const r = await t.call('GET', '/api/v4/projects/12345', { token: ROOT_TOKEN, headers: { 'x-request-id': 'trace-abc' } });
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-request-id'], 'trace-abc');
    const logged = lines().filter((l) => l.msg === 'request');
    assert.equal(logged.length, 1);
    const [line] = logged;
    assert.equal(line!.reqId, 'trace-abc');
    assert.equal(line!.route, '/api/v4/projects/:id');
    assert.equal(line!.status, 404);
    assert.equal(line!.method, 'GET');
    assert.equal(typeof line!.durationMs, 'number');
    assert.equal(lines().length, 1, 'no other line for a plain request');
  });

  it('names the error code of a refused request, so refusals can be counted by kind', async () => {
    t.logs.length = 0;
    await t.call('GET', '/api/v4/projects/12345', { token: ROOT_TOKEN });
    await t.call('GET', '/api/v4/no-such-route');
    await t.call('GET', '/api/v4/user', { headers: { 'private-token': 'glpat-no-such-token-000000' } });
    await t.call('GET', '/-/health');
    const logged = lines().filter((l) => l.msg === 'request');
    assert.deepEqual(
      logged.map((l) => [l.status, l.code]),
      [
        [404, 'not_found'],
        [404, 'route_not_found'],
        [401, 'token_unknown'],
        [200, undefined],
      ],
    );
  });

  it('gives every request a unique id when the client sends none', async () => {
    const a = await t.call('GET', '/-/health');
    const b = await t.call('GET', '/-/health');
    assert.match(String(a.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });

  it('never writes tokens or passwords, whatever form they arrive in', async () => {
    t.logs.length = 0;
    const secretPassword = 'pw-super-secret-123';
    const created = await t.call('POST', '/api/v4/users', {
      token: ROOT_TOKEN,
      body: { username: 'logme', name: 'Log Me', email: 'log@example.com', password: secretPassword },
    });
    assert.equal(created.status, 201);
    const pat = await t.call('POST', `/api/v4/users/${created.body.id}/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'x', scopes: ['api'] } });
    const secretToken: string = pat.body.token;
    const basic = `Basic ${Buffer.from(`logme:${secretToken}`).toString('base64')}`;
    await t.call('GET', '/api/v4/user', { headers: { authorization: `Bearer ${secretToken}` } });
    await t.call('GET', '/api/v4/user', { headers: { authorization: basic } });
    await t.call('GET', '/api/v4/user', { headers: { 'deploy-token': secretToken } });
    await t.call('GET', `/api/v4/user?private_token=${secretToken}&page=1`);
    await t.call('GET', `/api/v4/user?access_token=${secretToken}`);
    await t.call('GET', '/api/v4/user', { headers: { 'private-token': 'invalid-but-still-secret-xyz' } });
    // An unhandled-path error logs too; it must not carry the body either.
    await t.call('POST', `/api/v4/users?password=${secretPassword}`, { token: ROOT_TOKEN, body: '{not json' });

    const all = t.logs.join('');
    for (const secret of [secretToken, ROOT_TOKEN, secretPassword, 'invalid-but-still-secret-xyz', basic.slice(6)]) {
      assert.ok(!all.includes(secret), `log contains a secret: ${secret.slice(0, 12)}…`);
    }
    assert.ok(all.includes('private_token=[REDACTED]'), 'the redacted query parameter is still visible as such');
    assert.ok(lines().filter((l) => l.msg === 'request').length >= 8);
  });
});
