/** Per-request web state: the signed-in user (from the session cookie) and the CSRF token forms must carry. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../app-deps.js';
import type { UserIdentity } from '../domain/access/identity.js';
import { ANONYMOUS, type Identity } from '../domain/access/identity.js';
import type { UserRow } from '../domain/records.js';
import { readCookie, serializeCookie } from './cookies.js';
import { html, type SafeHtml } from './html.js';
import { layout, type Flash, type PageContext } from './layout.js';

export const SESSION_COOKIE = '_wharf_session';
/** Before sign-in there is no session to hold a CSRF token, so the sign-in form uses a double-submit cookie. */
export const CSRF_COOKIE = '_wharf_csrf';
/** The UI's forms hold a few short fields; nothing posted to it needs more. */
export const WEB_FORM_BODY_LIMIT = 64 * 1024;

export interface WebRequestState {
  user: UserRow | undefined;
  csrfToken: string;
  sessionCookie: string | undefined;
}

export function secureCookies(deps: Deps): boolean {
  return deps.config.externalUrl.startsWith('https:');
}

export async function webState(deps: Deps, request: FastifyRequest, reply: FastifyReply): Promise<WebRequestState> {
  const sessionCookie = readCookie(request.headers.cookie, SESSION_COOKIE);
  const session = await deps.services.sessions.resolve(sessionCookie);
  if (session) return { user: session.user, csrfToken: session.csrfToken, sessionCookie };
  let csrf = readCookie(request.headers.cookie, CSRF_COOKIE);
  if (!csrf || !/^[A-Za-z0-9_-]{32}$/.test(csrf)) {
    csrf = randomBytes(24).toString('base64url');
    reply.header('set-cookie', serializeCookie(CSRF_COOKIE, csrf, { secure: secureCookies(deps) }));
  }
  return { user: undefined, csrfToken: csrf, sessionCookie: undefined };
}

/** Constant-time comparison of the form's `authenticity_token` with the expected one. */
export function csrfValid(state: WebRequestState, body: unknown): boolean {
  const given = (body as Record<string, unknown> | undefined)?.authenticity_token;
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(state.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The identity a signed-in user acts with in the UI: their own rights, as an `api`-scoped token would have. */
export function webIdentity(user: UserRow | undefined): Identity {
  if (!user) return ANONYMOUS;
  const identity: UserIdentity = { kind: 'user', userId: user.id, username: user.username, isAdmin: user.is_admin === 1, scopes: ['api'], tokenId: 0 };
  return identity;
}

export function sendPage(reply: FastifyReply, status: number, title: string, ctx: PageContext, body: SafeHtml, flash?: Flash): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .header('referrer-policy', 'same-origin')
    .send(layout(title, ctx, body, flash).value);
}

export function csrfFailure(reply: FastifyReply, ctx: PageContext): FastifyReply {
  return sendPage(
    reply,
    422,
    'Form expired',
    ctx,
    html`<h1>This form has expired</h1><p>For your safety the form could not be accepted. Go back, reload the page and submit it again.</p>`,
  );
}
