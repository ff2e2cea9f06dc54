/** The server-rendered UI through inject(): sessions, CSRF, token management, escaping. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { cookieOf, form, hidden } from '../helpers/web-forms.js';


for (const dialect of DIALECTS) {
  describe(`web UI [${dialect}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
      const r = await t.call('POST', '/api/v4/users', {
        token: ROOT_TOKEN,
        body: { username: 'dana', name: 'Dana <script>alert(1)</script>', email: 'dana@example.com', password: 'dana-password' },
      });
      assert.equal(r.status, 201);
    });
    after(async () => t.close());

    const get = (url: string, cookie = '') => t.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });
    const post = (url: string, body: string, cookie = '') =>
      t.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) } });

    /** Signs in through the form, as a browser would; returns the session cookie header. */
    const signIn = async (login = 'dana', password = 'dana-password') => {
      const page = await get('/users/sign_in');
      const csrf = cookieOf(page.headers['set-cookie'], '_wharf_csrf')!;
      const token = hidden(page.body, 'authenticity_token')!;
      assert.equal(token, csrf);
      const r = await post('/users/sign_in', form({ authenticity_token: token, login, password, redirect_to: '/-/user_settings/personal_access_tokens' }), `_wharf_csrf=${csrf}`);
      return { r, session: cookieOf(r.headers['set-cookie'], '_wharf_session'), csrf };
    };

    it('serves the sign-in page with a CSRF cookie that is HttpOnly and SameSite=Lax', async () => {
      const page = await get('/users/sign_in');
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.match(String(page.headers['set-cookie']), /_wharf_csrf=.*HttpOnly; SameSite=Lax/);
      assert.doesNotMatch(String(page.headers['set-cookie']), /Secure/, 'http external URL: no Secure flag');
      assert.match(page.body, /<label for="login">/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    });

    it('refuses a sign-in without the matching CSRF token (422) and a wrong password (401)', async () => {
      const noToken = await post('/users/sign_in', form({ login: 'dana', password: 'dana-password' }));
      assert.equal(noToken.statusCode, 422);
      const { r } = await signIn('dana', 'wrong-password');
      assert.equal(r.statusCode, 401);
      assert.match(r.body, /Invalid login or password/);
      assert.equal(cookieOf(r.headers['set-cookie'], '_wharf_session'), undefined);
    });

    it('signs in with a session cookie, redirects only to local paths, and escapes user data', async () => {
      const { r, session } = await signIn();
      assert.equal(r.statusCode, 303);
      assert.equal(r.headers.location, '/-/user_settings/personal_access_tokens');
      assert.ok(session);
      assert.match(String(r.headers['set-cookie']), /_wharf_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=/);
      const home = await get('/', `_wharf_session=${session}`);
      assert.equal(home.statusCode, 200);
      assert.match(home.body, /Welcome, Dana &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      assert.doesNotMatch(home.body, /<script>alert/);

      const page = await get('/users/sign_in');
      const csrf = cookieOf(page.headers['set-cookie'], '_wharf_csrf')!;
      const evil = await post('/users/sign_in', form({ authenticity_token: csrf, login: 'dana', password: 'dana-password', redirect_to: '//evil.example/x' }), `_wharf_csrf=${csrf}`);
      assert.equal(evil.headers.location, '/');
    });

    it('sends anonymous visitors of the token page to sign in', async () => {
      const r = await get('/-/user_settings/personal_access_tokens');
      assert.equal(r.statusCode, 303);
      assert.equal(r.headers.location, '/users/sign_in?redirect_to=%2F-%2Fuser_settings%2Fpersonal_access_tokens');
    });

    it('creates a token shown once that works on the API, lists it, and revokes it', async () => {
      const { session } = await signIn();
      const cookie = `_wharf_session=${session}`;
      const page = await get('/-/user_settings/personal_access_tokens', cookie);
      const csrf = hidden(page.body, 'authenticity_token')!;
      const created = await post('/-/user_settings/personal_access_tokens', form({ authenticity_token: csrf, name: 'laptop', expires_at: new Date(Date.now() + 300 * 86_400_000).toISOString().slice(0, 10), 'scopes[]': ['read_api'] }), cookie);
      assert.equal(created.statusCode, 201);
      const secret = /id="new-token-value"[^>]*value="(whpat-[^"]+)"/.exec(created.body)?.[1];
      assert.ok(secret, 'the new token is on the page');
      const me = await t.call('GET', '/api/v4/user', { token: secret });
      assert.equal(me.body.username, 'dana');
      // Shown once: the next view lists the token but not its secret.
      const again = await get('/-/user_settings/personal_access_tokens', cookie);
      assert.match(again.body, /laptop/);
      assert.ok(!again.body.includes(secret));

      const id = /action="\/-\/user_settings\/personal_access_tokens\/(\d+)\/revoke"/.exec(again.body)?.[1];
      assert.ok(id);
      const forged = await post(`/-/user_settings/personal_access_tokens/${id}/revoke`, form({ authenticity_token: 'forged' }), cookie);
      assert.equal(forged.statusCode, 422);
      assert.equal((await t.call('GET', '/api/v4/user', { token: secret })).status, 200);
      const revoked = await post(`/-/user_settings/personal_access_tokens/${id}/revoke`, form({ authenticity_token: csrf }), cookie);
      assert.equal(revoked.statusCode, 303);
      assert.equal((await t.call('GET', '/api/v4/user', { token: secret })).status, 401);
    });

    it('explains a bad token form instead of failing', async () => {
      const { session } = await signIn();
      const cookie = `_wharf_session=${session}`;
      const csrf = hidden((await get('/-/user_settings/personal_access_tokens', cookie)).body, 'authenticity_token')!;
      const r = await post('/-/user_settings/personal_access_tokens', form({ authenticity_token: csrf, name: 'x', expires_at: '2001-01-01', 'scopes[]': ['api'] }), cookie);
      assert.equal(r.statusCode, 400);
      assert.match(r.body, /expires at must be in the future/);
    });

    it('cannot revoke someone else’s token through the UI', async () => {
      const rootTokens = await t.call('GET', '/api/v4/personal_access_tokens', { token: ROOT_TOKEN });
      const rootTokenId = rootTokens.body.find((x: { user_id: number }) => x.user_id === 1).id;
      const { session } = await signIn();
      const cookie = `_wharf_session=${session}`;
      const csrf = hidden((await get('/-/user_settings/personal_access_tokens', cookie)).body, 'authenticity_token')!;
      const r = await post(`/-/user_settings/personal_access_tokens/${rootTokenId}/revoke`, form({ authenticity_token: csrf }), cookie);
      assert.equal(r.statusCode, 404);
      assert.equal((await t.call('GET', '/api/v4/user', { token: ROOT_TOKEN })).status, 200);
    });

    it('signs out and the session stops working', async () => {
      const { session } = await signIn();
      const cookie = `_wharf_session=${session}`;
      const csrf = hidden((await get('/', cookie)).body, 'authenticity_token')!;
      const out = await post('/users/sign_out', form({ authenticity_token: csrf }), cookie);
      assert.equal(out.statusCode, 303);
      assert.match(String(out.headers['set-cookie']), /_wharf_session=; .*Max-Age=0/);
      const after = await get('/-/user_settings/personal_access_tokens', cookie);
      assert.equal(after.statusCode, 303);
    });
  });
}
