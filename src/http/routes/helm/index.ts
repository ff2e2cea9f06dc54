/**
 * GitLab's Helm API (docs/design/gitlab-compatibility.md#helm-routes) under `/api/v4/projects/:id/packages/helm`, plus what ChartMuseum users
 * expect beyond it (docs/design/client-protocols.md#chartmuseum-api): provenance files and deletion.
 *
 * What the clients do here (docs/design/client-protocols.md#helm-repo-add, #helm-install, #helm-cm-push):
 *
 * - `helm repo add proj https://host/api/v4/projects/42/packages/helm/stable --username u --password <token>`
 *   then `helm repo update`: `GET …/stable/index.yaml` with HTTP Basic (sent pre-emptively; helm sends no Accept
 *   and no Accept-Encoding, so the document is never compressed). Only 200 counts as success.
 * - `helm install proj/mychart`: `GET …/stable/charts/mychart-0.1.0.tgz`, the entry's relative `urls[0]` resolved
 *   against the repository URL; with `--verify` also `GET …/mychart-0.1.0.tgz.prov`.
 * - `helm cm-push mychart-0.1.0.tgz proj [--force]`: reads `serverInfo.contextPath` from the cached index and posts
 *   multipart field `chart` to `<contextPath>/api/stable/charts[?force]`; 201 or 202 means done, anything else is
 *   reported through the JSON body's `error` field.
 *
 * Credentials are HTTP Basic only (any username, a personal access token or deploy token as the password); other
 * forms are ignored, and every 401 carries `WWW-Authenticate: Basic realm="GitLab Packages Registry"`.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { checkTokenScope } from '../../../domain/access/abilities.js';
import type { Identity } from '../../../domain/access/identity.js';
import { errors, isAppError } from '../../../domain/errors.js';
import { CHANNEL_PATTERN } from '../../../domain/helm/rules.js';
import { identityOf } from '../../plugins/identity.js';
import { auditContext } from '../../audit-context.js';
import { attachmentDisposition } from '../../content-disposition.js';
import { authorizeHelm, requireValidChannel } from '../../../services/helm/access.js';
import { openUploadParts, registerHelmBodyParsers } from './upload-body.js';

/** `:channel` fails Grape's regexp check as `{"error":"channel is invalid"}`, before anything else happens. */
const Channel = Type.String({ pattern: CHANNEL_PATTERN });
const ProjectChannel = Type.Object({ id: Type.String(), channel: Channel });

/** ChartMuseum's `?force` is a bare flag (`…/charts?force`); `force=false` and `force=0` mean no. */
function forced(query: unknown): boolean {
  const value = (query as Record<string, unknown> | undefined)?.force;
  if (value === undefined) return false;
  return !['false', '0'].includes(String(value).toLowerCase());
}

export const helmRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services } = deps;
    await registerHelmBodyParsers(app);

    /** The caller, from HTTP Basic only; a token's scope must allow the method (`read_api` reads only). */
    async function caller(request: FastifyRequest): Promise<Identity> {
      try {
        const identity = await identityOf(request, services.identity, 'basic-only');
        checkTokenScope(identity, request.method);
        return identity;
      } catch (err) {
        throw isAppError(err) && err.status === 401 ? errors.helmUnauthorized(err) : err;
      }
    }

    const base = '/projects/:id/packages/helm';

    /**
     * An upload's checks that need no body, in the service's order (channel, caller, `create_package` on the
     * project), made before a byte of the chart is read; the service repeats them when the body is there.
     */
    const uploadBeforeBody = async (request: FastifyRequest): Promise<void> => {
      const { id, channel } = request.params as { id: string; channel: string };
      requireValidChannel(channel);
      await authorizeHelm(services.access, await caller(request), id, 'create_package');
    };

    app.get(`${base}/:channel/index.yaml`, { schema: { params: ProjectChannel } }, async (request, reply) => {
      const { id, channel } = request.params;
      const doc = await services.helm.index.read(await caller(request), id, channel, request.headers['if-none-match']);
      reply.header('etag', doc.etag);
      if (doc.notModified) return reply.code(304).send();
      // The document's parts, one after the other: no copy of a multi-megabyte index per response or per revision.
      return reply.type('text/yaml').header('content-length', doc.length).send(Readable.from(doc.parts, { objectMode: false }));
    });

    app.get(
      `${base}/:channel/charts/:file`,
      { schema: { params: Type.Object({ id: Type.String(), channel: Channel, file: Type.String() }) } },
      async (request, reply) => {
        const { id, channel, file } = request.params;
        // GitLab's route adds `.tgz` itself; Wharf also serves the provenance file next to the chart.
        if (!file.endsWith('.tgz') && !file.endsWith('.tgz.prov')) throw errors.routeNotFound();
        const download = await services.helm.charts.download(await caller(request), id, channel, file);
        if ('redirect' in download.body) return reply.redirect(download.body.redirect, 302);
        reply
          .header('content-length', download.size)
          .header('content-disposition', attachmentDisposition(download.fileName))
          .header('etag', `"${download.sha256}"`)
          .type(download.kind === 'chart' ? 'application/octet-stream' : 'application/pgp-signature');
        // For HEAD, Fastify drains a stream and keeps the Content-Length set above.
        return reply.send(download.body.content);
      },
    );

    app.post(`${base}/api/:channel/charts`, { schema: { params: ProjectChannel }, config: { beforeBody: uploadBeforeBody } }, async (request, reply) => {
      const { id, channel } = request.params;
      await services.helm.upload.uploadChart(await caller(request), id, channel, openUploadParts(request, 'chart'), {
        force: forced(request.query),
      });
      return reply.code(201).send({ message: '201 Created' });
    });

    app.post(`${base}/api/:channel/prov`, { schema: { params: ProjectChannel }, config: { beforeBody: uploadBeforeBody } }, async (request, reply) => {
      const { id, channel } = request.params;
      await services.helm.upload.uploadProvenance(await caller(request), id, channel, openUploadParts(request, 'prov'), {
        force: forced(request.query),
      });
      return reply.code(201).send({ message: '201 Created' });
    });

    app.delete(
      `${base}/api/:channel/charts/:name/:version`,
      { schema: { params: Type.Object({ id: Type.String(), channel: Channel, name: Type.String(), version: Type.String() }) } },
      async (request) => {
        const { id, channel, name, version } = request.params;
        const identity = await caller(request);
        await services.helm.charts.delete(identity, id, channel, name, version, auditContext(request, identity));
        // ChartMuseum's answer, which scripts written for it check.
        return { deleted: true };
      },
    );
  };
