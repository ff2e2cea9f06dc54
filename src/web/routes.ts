/**
 * The server-rendered UI: sign in and out, the home page, and personal access tokens. Pages work without
 * JavaScript; every form carries a CSRF token; the session cookie is HttpOnly, SameSite=Lax, and Secure when the
 * external URL is https.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../app-deps.js';
import { isoDate } from '../domain/clock.js';
import { ifNoneMatchMatches } from '../domain/conditional.js';
import { isAppError } from '../domain/errors.js';
import { readCookie, serializeCookie } from './cookies.js';
import { html } from './html.js';
import type { Flash, PageContext } from './layout.js';
import { SESSION_LIFETIME_MS } from '../services/sessions.service.js';
import { MAX_TOKEN_LIFETIME_DAYS } from '../services/tokens.service.js';
import { auditContext } from '../http/audit-context.js';
import { csrfFailure, csrfValid, secureCookies, sendPage, SESSION_COOKIE, WEB_FORM_BODY_LIMIT, webIdentity, webState } from './web-context.js';
import { packagePageRoutes } from './package-routes.js';

const STYLE = readFileSync(new URL('./style.css', import.meta.url));
const COPY_JS = readFileSync(new URL('./copy.js', import.meta.url));
const STYLE_ETAG = `"${createHash('sha256').update(STYLE).digest('base64url').slice(0, 16)}"`;
const TOKENS_PATH = '/-/user_settings/personal_access_tokens';

/** Only local absolute paths may be redirect targets, so sign-in cannot bounce a user to another site. */
const safeRedirect = (target: unknown): string =>
  typeof target === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(target) ? target : '/';

const NOTICES: Record<string, Flash> = {
  revoked: { kind: 'notice', message: 'The token was revoked.' },
  signed_out: { kind: 'notice', message: 'Signed out.' },
};

export const webRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services } = deps;

    app.get('/-/assets/style.css', async (request, reply) => {
      reply.header('etag', STYLE_ETAG).header('cache-control', 'public, max-age=3600');
      if (ifNoneMatchMatches(request.headers['if-none-match'], STYLE_ETAG)) return reply.code(304).send();
      return reply.type('text/css; charset=utf-8').send(STYLE);
    });

    app.get('/-/assets/copy.js', async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(COPY_JS),
    );

    await app.register(packagePageRoutes(deps));

    app.get('/', async (request, reply) => {
      const state = await webState(deps, request, reply);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: '/' };
      const { items, total } = await services.projects.list(webIdentity(state.user), {}, { page: 1, perPage: 100 });
      const notice = NOTICES[String((request.query as Record<string, unknown>).notice ?? '')];
      const body = html`<h1>${state.user ? `Welcome, ${state.user.name}` : 'Wharf'}</h1>
<p class="muted">npm packages and Helm charts, served through the GitLab Package Registry API.</p>
${state.user ? '' : html`<p><a class="button" href="/users/sign_in">Sign in</a> to see your private projects and manage access tokens.</p>`}
<h2>Projects ${total > items.length ? html`<span class="muted">(first ${items.length} of ${total})</span>` : ''}</h2>
${
  items.length === 0
    ? html`<p class="muted">No projects you can see yet.</p>`
    : html`<ul class="cards">${items.map(
        (p) => html`<li><strong>${p.full_path}</strong><br><span class="muted">${p.visibility} · id ${p.id}</span>${p.description ? html`<br>${p.description}` : ''}</li>`,
      )}</ul>`
}`;
      return sendPage(reply, 200, 'Home', ctx, body, notice);
    });

    const signInForm = (ctx: PageContext, redirectTo: string, login = '') => html`<h1>Sign in</h1>
<form method="post" action="/users/sign_in" class="stack">
  <input type="hidden" name="authenticity_token" value="${ctx.csrfToken}">
  <input type="hidden" name="redirect_to" value="${redirectTo}">
  <div><label for="login">Username or e-mail</label><input id="login" name="login" type="text" autocomplete="username" required value="${login}" autofocus></div>
  <div><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
  <div><button type="submit">Sign in</button></div>
</form>`;

    app.get('/users/sign_in', async (request, reply) => {
      const state = await webState(deps, request, reply);
      const redirectTo = safeRedirect((request.query as Record<string, unknown>).redirect_to);
      if (state.user) return reply.redirect(redirectTo, 303);
      const ctx: PageContext = { user: undefined, csrfToken: state.csrfToken, path: '/users/sign_in' };
      const notice = NOTICES[String((request.query as Record<string, unknown>).notice ?? '')];
      return sendPage(reply, 200, 'Sign in', ctx, signInForm(ctx, redirectTo), notice);
    });

    app.post('/users/sign_in', { bodyLimit: WEB_FORM_BODY_LIMIT }, async (request, reply) => {
      const state = await webState(deps, request, reply);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: '/users/sign_in' };
      if (!csrfValid(state, request.body)) return csrfFailure(reply, ctx);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const login = typeof body.login === 'string' ? body.login.trim() : '';
      const password = typeof body.password === 'string' ? body.password : '';
      const redirectTo = safeRedirect(body.redirect_to);
      let session: Awaited<ReturnType<typeof services.sessions.signIn>>;
      try {
        session = login && password ? await services.sessions.signIn(login, password, auditContext(request)) : undefined;
      } catch (err) {
        // Too many wrong passwords for this login or from this address: the form again, with when to retry.
        if (!isAppError(err) || err.status !== 429) throw err;
        reply.headers(err.headers);
        const message = `Too many failed sign-in attempts. Try again in ${err.headers['retry-after'] ?? 'a few'} seconds.`;
        return sendPage(reply, 429, 'Sign in', ctx, signInForm(ctx, redirectTo, login), { kind: 'alert', message });
      }
      if (!session) {
        return sendPage(reply, 401, 'Sign in', ctx, signInForm(ctx, redirectTo, login), { kind: 'alert', message: 'Invalid login or password.' });
      }
      reply.header(
        'set-cookie',
        serializeCookie(SESSION_COOKIE, session.cookieValue, { secure: secureCookies(deps), maxAgeSeconds: SESSION_LIFETIME_MS / 1000 }),
      );
      return reply.redirect(redirectTo, 303);
    });

    app.post('/users/sign_out', { bodyLimit: WEB_FORM_BODY_LIMIT }, async (request, reply) => {
      const state = await webState(deps, request, reply);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: '/' };
      if (!csrfValid(state, request.body)) return csrfFailure(reply, ctx);
      await services.sessions.signOut(state.sessionCookie);
      reply.header('set-cookie', serializeCookie(SESSION_COOKIE, '', { secure: secureCookies(deps), maxAgeSeconds: 0 }));
      return reply.redirect('/users/sign_in?notice=signed_out', 303);
    });

    /** Token forms without a session get the handler's sign-in redirect before the form is read. */
    const signedInFirst = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      if (await services.sessions.resolve(readCookie(request.headers.cookie, SESSION_COOKIE))) return undefined;
      return reply.redirect(`/users/sign_in?redirect_to=${encodeURIComponent(TOKENS_PATH)}`, 303);
    };

    const tokensPage = async (ctx: PageContext, userId: number, created?: { name: string; token: string }, error?: string) => {
      const identity = webIdentity(ctx.user);
      const { items } = await services.tokens.listPersonal(identity, { userId }, { page: 1, perPage: 100 });
      const today = isoDate(deps.clock.now());
      const defaultExpiry = isoDate(new Date(deps.clock.now().getTime() + 30 * 86_400_000));
      // As GitLab's form: a date is required (and bounded) while the instance requires tokens to expire.
      const policy = await services.settings.get();
      const maxDays = policy.require_personal_access_token_expiry ? (policy.max_personal_access_token_lifetime ?? MAX_TOKEN_LIFETIME_DAYS) : policy.max_personal_access_token_lifetime;
      const maxExpiry = maxDays === null ? '' : isoDate(new Date(deps.clock.now().getTime() + maxDays * 86_400_000));
      const expiryLimits = html`${maxExpiry ? html` max="${maxExpiry}"` : ''}${policy.require_personal_access_token_expiry ? html` required` : ''}`;
      const active = items.filter((t) => !t.revoked && (t.expires_at === null || t.expires_at > today));
      const inactive = items.filter((t) => !active.includes(t));
      const scopes = (json: string) => (JSON.parse(json) as string[]).join(', ');
      const body = html`<h1>Personal access tokens</h1>
<p class="muted">Use a token as the password for <code>helm repo add</code>, as <code>_authToken</code> in <code>.npmrc</code>, or in the <code>PRIVATE-TOKEN</code> header of API calls.</p>
${
  created
    ? html`<section aria-labelledby="new-token"><h2 id="new-token">Your new token “${created.name}”</h2>
<p>Copy it now: it is shown only this once.</p>
<label for="new-token-value">Token</label><input id="new-token-value" class="secret" type="text" readonly value="${created.token}"></section>`
    : ''
}
${error ? html`<p class="flash alert" role="alert">${error}</p>` : ''}
<h2>Add a token</h2>
<form method="post" action="${TOKENS_PATH}" class="stack">
  <input type="hidden" name="authenticity_token" value="${ctx.csrfToken}">
  <div><label for="token-name">Name</label><input id="token-name" name="name" type="text" required maxlength="255"></div>
  <div><label for="token-expiry">Expires on</label><input id="token-expiry" name="expires_at" type="date" min="${today}"${expiryLimits} value="${defaultExpiry > maxExpiry && maxExpiry ? maxExpiry : defaultExpiry}"></div>
  <fieldset><legend>Scopes</legend>
    <label><input type="checkbox" name="scopes[]" value="api" checked> <span><code>api</code>: read and write (publish, tag, delete)</span></label>
    <label><input type="checkbox" name="scopes[]" value="read_api"> <span><code>read_api</code>: read only (install, pull)</span></label>
  </fieldset>
  <div><button type="submit">Create token</button></div>
</form>
<h2>Active tokens (${active.length})</h2>
${
  active.length === 0
    ? html`<p class="muted">No active tokens.</p>`
    : html`<table><thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col" class="optional">Created</th><th scope="col" class="optional">Last used</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>
${active.map(
  (t) => html`<tr><td>${t.name}</td><td>${scopes(t.scopes)}</td><td class="optional">${t.created_at.slice(0, 10)}</td><td class="optional">${t.last_used_at ? t.last_used_at.slice(0, 10) : 'never'}</td><td>${t.expires_at ?? 'never'}</td>
<td><form method="post" action="${TOKENS_PATH}/${t.id}/revoke" class="inline"><input type="hidden" name="authenticity_token" value="${ctx.csrfToken}"><button type="submit" class="danger" aria-label="Revoke ${t.name}">Revoke</button></form></td></tr>`,
)}</tbody></table>`
}
${
  inactive.length
    ? html`<h2>Inactive tokens (${inactive.length})</h2><table><thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">State</th></tr></thead><tbody>
${inactive.map((t) => html`<tr><td>${t.name}</td><td>${scopes(t.scopes)}</td><td>${t.revoked ? 'revoked' : `expired ${t.expires_at}`}</td></tr>`)}</tbody></table>`
    : ''
}`;
      return body;
    };

    app.get(TOKENS_PATH, async (request, reply) => {
      const state = await webState(deps, request, reply);
      if (!state.user) return reply.redirect(`/users/sign_in?redirect_to=${encodeURIComponent(TOKENS_PATH)}`, 303);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: TOKENS_PATH };
      const notice = NOTICES[String((request.query as Record<string, unknown>).notice ?? '')];
      return sendPage(reply, 200, 'Access tokens', ctx, await tokensPage(ctx, state.user.id), notice);
    });

    app.post(TOKENS_PATH, { bodyLimit: WEB_FORM_BODY_LIMIT, onRequest: signedInFirst }, async (request, reply) => {
      const state = await webState(deps, request, reply);
      if (!state.user) return reply.redirect(`/users/sign_in?redirect_to=${encodeURIComponent(TOKENS_PATH)}`, 303);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: TOKENS_PATH };
      if (!csrfValid(state, request.body)) return csrfFailure(reply, ctx);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const scopes = Array.isArray(body.scopes) ? body.scopes.map(String) : typeof body.scopes === 'string' ? [body.scopes] : [];
      try {
        const { row, token } = await services.tokens.createPersonal(
          state.user.id,
          {
            name: typeof body.name === 'string' ? body.name.trim() : '',
            scopes,
            expires_at: typeof body.expires_at === 'string' && body.expires_at !== '' ? body.expires_at : null,
          },
          auditContext(request, webIdentity(state.user)),
        );
        // The secret is rendered in this response only: never in a redirect URL, a flash cookie or a log.
        return sendPage(reply, 201, 'Access tokens', ctx, await tokensPage(ctx, state.user.id, { name: row.name, token }));
      } catch (err) {
        if (!isAppError(err) || err.status >= 500) throw err;
        const message = describe(err.body);
        return sendPage(reply, 400, 'Access tokens', ctx, await tokensPage(ctx, state.user.id, undefined, message));
      }
    });

    app.post(`${TOKENS_PATH}/:id/revoke`, { bodyLimit: WEB_FORM_BODY_LIMIT, onRequest: signedInFirst }, async (request, reply) => {
      const state = await webState(deps, request, reply);
      if (!state.user) return reply.redirect(`/users/sign_in?redirect_to=${encodeURIComponent(TOKENS_PATH)}`, 303);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: TOKENS_PATH };
      if (!csrfValid(state, request.body)) return csrfFailure(reply, ctx);
      const id = Number((request.params as { id: string }).id);
      // Only the user's own tokens: an admin revokes others' through the API, never by a forged UI form.
      const own = await services.tokens.listPersonal(webIdentity(state.user), { userId: state.user.id }, { page: 1, perPage: 1000 });
      if (!Number.isSafeInteger(id) || !own.items.some((t) => t.id === id)) {
        return sendPage(reply, 404, 'Not found', ctx, html`<h1>Token not found</h1><p><a href="${TOKENS_PATH}">Back to your tokens</a></p>`);
      }
      await services.tokens.revokePersonal(webIdentity(state.user), id, auditContext(request, webIdentity(state.user)));
      return reply.redirect(`${TOKENS_PATH}?notice=revoked`, 303);
    });
  };

/** An API error body as one sentence for a form: `{"message":{"scopes":["…"]}}` → "scopes …". */
function describe(body: Record<string, unknown>): string {
  const m = body.message ?? body.error;
  if (typeof m === 'string') return m.replace(/^\d{3} [A-Za-z ]+ - /, '');
  if (m && typeof m === 'object') {
    return Object.entries(m as Record<string, string[]>)
      .map(([field, msgs]) => `${field.replace(/_/g, ' ')} ${msgs.join(', ')}`)
      .join('; ');
  }
  return 'The request could not be completed.';
}
