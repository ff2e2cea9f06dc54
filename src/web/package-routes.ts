/**
 * Package pages at GitLab's addresses: `/explore`, `/<project or group path>/-/packages`,
 * `/<project path>/-/packages/<id>` and its delete confirmation. Reading works without JavaScript and without
 * signing in for public packages; a package the visitor may not read answers 404 like a missing one.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../app-deps.js';
import { loadMarkdown } from './markdown.js';
import { errors, isAppError } from '../domain/errors.js';
import { html } from './html.js';
import { TRUSTED_PUBLISHERS_PATH } from './trusted-publisher-pages.js';
import { auditContext } from '../http/audit-context.js';
import type { PageContext } from './layout.js';
import { deleteConfirmation, filterForm, packagePage, packagePath, summaryList, type ListFilter } from './package-pages.js';
import { csrfFailure, csrfValid, sendPage, WEB_FORM_BODY_LIMIT, webIdentity, webState } from './web-context.js';

const PER_PAGE = 30;
const PACKAGES_PATH = /^\/(.+?)\/-\/packages(?:\/(\d+)(\/delete)?)?\/?$/;

const filterOf = (query: unknown): ListFilter => {
  const q = (query ?? {}) as Record<string, unknown>;
  const type = q.type === 'npm' || q.type === 'helm' ? q.type : '';
  const page = typeof q.page === 'string' && /^\d{1,6}$/.test(q.page) && Number(q.page) > 0 ? Number(q.page) : 1;
  return { q: typeof q.q === 'string' ? q.q.slice(0, 200) : '', type, page };
};

export const packagePageRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services, config } = deps;

    const notFound = (reply: FastifyReply, ctx: PageContext) =>
      sendPage(reply, 404, 'Not found', ctx, html`<h1>Page not found</h1><p>It does not exist, or you may not see it${ctx.user ? '' : html` — <a href="/users/sign_in?redirect_to=${encodeURIComponent(ctx.path)}">sign in</a> to see private packages`}.</p>`);

    app.get('/explore', async (request, reply) => {
      const state = await webState(deps, request, reply);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path: '/explore' };
      const f = filterOf(request.query);
      const result = await services.packagePages.explore(webIdentity(state.user), { q: f.q || undefined, type: f.type || undefined }, { page: f.page, perPage: PER_PAGE });
      const body = html`<h1>Explore packages</h1>
<p class="muted">${state.user ? 'Every package you may read.' : 'Public packages. Sign in to see private ones.'}</p>
${filterForm('/explore', f)}${summaryList(result, f, '/explore', PER_PAGE)}`;
      return sendPage(reply, 200, 'Explore', ctx, body);
    });

    /** Every other page: the package routes above, or a 404 (JSON under `/api/`, as GitLab answers there). */
    const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
      // Through the error handler, as every JSON error, so the access line names its code.
      if (path.startsWith('/api/')) throw errors.routeNotFound();
      const state = await webState(deps, request, reply);
      const ctx: PageContext = { user: state.user, csrfToken: state.csrfToken, path };
      const m = PACKAGES_PATH.exec(path);
      if (!m) return notFound(reply, ctx);
      const [, fullPath, id, del] = m as unknown as [string, string, string | undefined, string | undefined];
      const identity = webIdentity(state.user);
      try {
        if (id === undefined) {
          if (request.method !== 'GET') return notFound(reply, ctx);
          const f = filterOf(request.query);
          const listed = await services.packagePages.ofPath(identity, fullPath, { q: f.q || undefined, type: f.type || undefined }, { page: f.page, perPage: PER_PAGE });
          const action = `/${fullPath}/-/packages`;
          // Maintainers manage the project's trusted publishers there; the page itself decides who may (docs/trusted-publishing.md).
          const publishersLink =
            listed.kind === 'project' && state.user
              ? html` <a href="${`${TRUSTED_PUBLISHERS_PATH}?${new URLSearchParams({ project: fullPath })}`}">Trusted publishers</a>`
              : '';
          const body = html`<h1>Packages of ${listed.title}</h1><p class="muted">${listed.kind === 'group' ? 'Every project of this group and its subgroups.' : 'Project package registry.'}${publishersLink}</p>
${filterForm(action, f)}${summaryList(listed.result, f, action, PER_PAGE)}`;
          return sendPage(reply, 200, `Packages of ${listed.title}`, ctx, body);
        }
        const details = await services.packagePages.details(identity, fullPath, Number(id));
        if (!del) {
          if (request.method !== 'GET') return notFound(reply, ctx);
          const ociChannel = details.pkg.package_type === 'helm' ? (await services.settings.get()).helm_oci_channel : undefined;
          return sendPage(reply, 200, `${details.pkg.name} ${details.pkg.version}`, ctx, packagePage(details, config.externalUrl, await loadMarkdown(), ociChannel));
        }
        if (!details.canDestroy) return notFound(reply, ctx);
        if (request.method === 'GET') return sendPage(reply, 200, `Delete ${details.pkg.name}`, ctx, deleteConfirmation(details, state.csrfToken));
        if (!csrfValid(state, request.body)) return csrfFailure(reply, ctx);
        try {
          // The API's `destroy_package` decision, made afresh as the packages API's route makes it.
          const target = await services.access.authorizePackageAccess(identity, String(details.project.id), 'destroy_package', 'plain', () => errors.notFound('Project'));
          await services.packages.delete({ identity, ...target }, details.pkg.id, auditContext(request, identity));
        } catch (err) {
          // A package protection rule (or a role changed since the page was shown): say so, keep the package.
          if (isAppError(err) && err.status === 403) {
            return sendPage(
              reply,
              403,
              'Not deleted',
              ctx,
              html`<h1>Not deleted</h1><p>${details.pkg.name} ${details.pkg.version} is protected from deletion by a package protection rule of this project, or you may no longer delete it.</p><p><a href="${packagePath(details.project.full_path, details.pkg.id)}">Back to the package</a></p>`,
            );
          }
          throw err;
        }
        const remaining = details.versions.find((v) => v.id !== details.pkg.id);
        return reply.redirect(remaining ? packagePath(details.project.full_path, remaining.id) : `/${details.project.full_path}/-/packages`, 303);
      } catch (err) {
        if (isAppError(err) && err.status === 404) return notFound(reply, ctx);
        throw err;
      }
    };
    app.get('/*', dispatch);
    // Only the delete confirmation posts here: a CSRF token and nothing else.
    app.post('/*', { bodyLimit: WEB_FORM_BODY_LIMIT }, dispatch);
  };
