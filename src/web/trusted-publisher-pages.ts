/**
 * The web page of a project's npm trusted publishers (docs/trusted-publishing.md): list, add, remove. The same
 * service and rules as the API (Maintainer and up, decided by the service), a signed-in session, and the CSRF token
 * on every form. The project is named in the query (`?project=<id or full path>`), so the page needs no route of
 * its own under the package pages' wildcard.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../app-deps.js';
import { isAppError } from '../domain/errors.js';
import type { TrustedPublisherRow } from '../domain/records.js';
import { auditContext } from '../http/audit-context.js';
import { presentPublisher } from '../services/trusted-publishing.service.js';
import { html } from './html.js';
import type { PageContext } from './layout.js';
import { csrfFailure, csrfValid, sendPage, WEB_FORM_BODY_LIMIT, webIdentity, webState } from './web-context.js';

export const TRUSTED_PUBLISHERS_PATH = '/-/trusted_publishers';
/** At most this many claim lines are read from the form (the service allows ten). */
const MAX_CLAIM_LINES = 20;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `name=value` lines (or `name: value`) → claims; the service validates them. */
function parseClaims(text: string): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const line of text.split(/\r?\n/).slice(0, MAX_CLAIM_LINES)) {
    const m = /^\s*([^=:\s]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (m) claims[m[1]!] = m[2]!;
  }
  return claims;
}

/** An API error body as one sentence for a form. */
function describe(body: Record<string, unknown>): string {
  const m = body.message ?? body.error;
  if (typeof m === 'string') return m.replace(/^\d{3} [A-Za-z ]+ - /, '');
  if (m && typeof m === 'object') {
    return Object.entries(m as Record<string, string[]>)
      .map(([field, msgs]) => `${field.replace(/_/g, ' ')}: ${msgs.join(', ')}`)
      .join('; ');
  }
  return 'The request could not be completed.';
}

export const trustedPublisherPages =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services } = deps;

    const page = (ctx: PageContext, project: string, rows: readonly TrustedPublisherRow[], issuers: readonly string[], error?: string) => {
      const action = `${TRUSTED_PUBLISHERS_PATH}?project=${encodeURIComponent(project)}`;
      return html`<h1>Trusted publishers of ${project}</h1>
<p class="muted">CI pipelines that may publish npm packages to this project without a stored token: npm exchanges the job's ID token (audience <code>${services.trustedPublishing.audience}</code>) for a token that publishes one package for 15 minutes.</p>
${error ? html`<p class="flash alert" role="alert">${error}</p>` : ''}
${
  rows.length === 0
    ? html`<p class="muted">No trusted publishers.</p>`
    : html`<table><thead><tr><th scope="col">Issuer</th><th scope="col">Claims</th><th scope="col">Packages</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>
${rows.map((r) => {
  const v = presentPublisher(r);
  return html`<tr><td>${v.issuer}</td><td>${Object.entries(v.claims).map(([k, val]) => html`<code>${k}</code> = <code>${val}</code><br>`)}</td><td><code>${v.package_name_pattern}</code></td>
<td><form method="post" action="${TRUSTED_PUBLISHERS_PATH}/delete" class="inline"><input type="hidden" name="authenticity_token" value="${ctx.csrfToken}"><input type="hidden" name="project" value="${project}"><input type="hidden" name="id" value="${v.id}"><button type="submit" class="danger" aria-label="Remove trusted publisher ${v.id}">Remove</button></form></td></tr>`;
})}</tbody></table>`
}
<h2>Add a trusted publisher</h2>
${
  issuers.length === 0
    ? html`<p class="muted">No issuer is allowed on this instance yet: an administrator lists them in the <code>trusted_publishing_issuers</code> setting.</p>`
    : html`<form method="post" action="${action}" class="stack">
  <input type="hidden" name="authenticity_token" value="${ctx.csrfToken}">
  <input type="hidden" name="project" value="${project}">
  <div><label for="tp-issuer">Issuer</label><select id="tp-issuer" name="issuer">${issuers.map((i) => html`<option value="${i}">${i}</option>`)}</select></div>
  <div><label for="tp-claims">Claims, one <code>name=value</code> per line (GitLab: <code>project_path</code>; GitHub: <code>repository</code>)</label><textarea id="tp-claims" name="claims" rows="4" required maxlength="4000"></textarea></div>
  <div><label for="tp-pattern">Package name or pattern (<code>*</code> for any characters)</label><input id="tp-pattern" name="package_name_pattern" type="text" required maxlength="234"></div>
  <div><button type="submit">Add trusted publisher</button></div>
</form>`
}`;
    };

    /** The signed-in state and page context, or the sign-in redirect already sent. */
    const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
      const state = await webState(deps, request, reply);
      const project = str((request.query as Record<string, unknown>).project) || str((request.body as Record<string, unknown> | undefined)?.project);
      const path = `${TRUSTED_PUBLISHERS_PATH}?project=${encodeURIComponent(project)}`;
      if (!state.user) {
        await reply.redirect(`/users/sign_in?redirect_to=${encodeURIComponent(path)}`, 303);
        return undefined;
      }
      return { state, project, ctx: { user: state.user, csrfToken: state.csrfToken, path } satisfies PageContext };
    };

    /** The page, or the refusal the service gave (403, 404) as a page. */
    const render = async (reply: FastifyReply, ctx: PageContext, project: string, identity: ReturnType<typeof webIdentity>, status = 200, error?: string) => {
      try {
        const rows = await services.trustedPublishing.list(identity, project);
        const { trusted_publishing_issuers: issuers } = await services.settings.get();
        return sendPage(reply, status, 'Trusted publishers', ctx, page(ctx, project, rows, issuers, error));
      } catch (err) {
        if (isAppError(err) && (err.status === 403 || err.status === 404)) {
          return sendPage(reply, 404, 'Not found', ctx, html`<h1>Page not found</h1><p>The project does not exist, or you are not one of its Maintainers.</p>`);
        }
        throw err;
      }
    };

    app.get(TRUSTED_PUBLISHERS_PATH, async (request, reply) => {
      const s = await signedIn(request, reply);
      if (!s) return reply;
      return render(reply, s.ctx, s.project, webIdentity(s.state.user));
    });

    app.post(TRUSTED_PUBLISHERS_PATH, { bodyLimit: WEB_FORM_BODY_LIMIT }, async (request, reply) => {
      const s = await signedIn(request, reply);
      if (!s) return reply;
      if (!csrfValid(s.state, request.body)) return csrfFailure(reply, s.ctx);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const identity = webIdentity(s.state.user);
      try {
        await services.trustedPublishing.create(
          identity,
          s.project,
          { issuer: str(body.issuer), claims: parseClaims(str(body.claims)), package_name_pattern: str(body.package_name_pattern).trim() },
          auditContext(request, identity),
        );
      } catch (err) {
        if (!isAppError(err) || err.status >= 500) throw err;
        if (err.status === 400) return render(reply, s.ctx, s.project, identity, 400, describe(err.body));
        return render(reply, s.ctx, s.project, identity);
      }
      return reply.redirect(s.ctx.path, 303);
    });

    app.post(`${TRUSTED_PUBLISHERS_PATH}/delete`, { bodyLimit: WEB_FORM_BODY_LIMIT }, async (request, reply) => {
      const s = await signedIn(request, reply);
      if (!s) return reply;
      if (!csrfValid(s.state, request.body)) return csrfFailure(reply, s.ctx);
      const identity = webIdentity(s.state.user);
      const id = Number(str((request.body as Record<string, unknown>).id));
      try {
        if (!Number.isSafeInteger(id) || id < 1) return render(reply, s.ctx, s.project, identity, 404, 'No such trusted publisher.');
        await services.trustedPublishing.remove(identity, s.project, id, auditContext(request, identity));
      } catch (err) {
        if (!isAppError(err) || err.status >= 500) throw err;
        return render(reply, s.ctx, s.project, identity, 404, 'No such trusted publisher.');
      }
      return reply.redirect(s.ctx.path, 303);
    });
  };
