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
import type { PackageAbility } from '../../../domain/access/abilities.js';
import { errors } from '../../../domain/errors.js';
import { CHANNEL_PATTERN } from '../../../domain/helm/rules.js';
import { auditContext } from '../../audit-context.js';
import { attachmentDisposition } from '../../content-disposition.js';
import type { RouteAccess } from '../../plugins/route-access.js';
import { requireValidChannel } from '../../../services/helm/access.js';
import { openUploadParts, registerHelmBodyParsers } from './upload-body.js';

/** `:channel` fails Grape's regexp check as `{"error":"channel is invalid"}`, before anything else happens. */
const Channel = Type.String({ pattern: CHANNEL_PATTERN });
const ProjectChannel = Type.Object({ id: Type.String(), channel: Channel });

/** Grape validates `:channel` before anything else, the caller included. */
const channelFirst = (request: FastifyRequest): void => requireValidChannel((request.params as { channel: string }).channel);

/** GitLab's route adds `.tgz` itself; Wharf also serves the provenance file next to the chart. */
const chartFileFirst = (request: FastifyRequest): void => {
  channelFirst(request);
  const { file } = request.params as { file: string };
  if (!file.endsWith('.tgz') && !file.endsWith('.tgz.prov')) throw errors.routeNotFound();
};

/**
 * Each Helm route's ability, decided by the route-access hook in GitLab's order (channel, caller, ability) with
 * Helm's plain `404 Project Not Found`; the handler gets the project (`request.projectAccess`) and the services
 * decide nothing again. Uploads are decided before a byte of the chart is read.
 */
const helmAccess = (ability: PackageAbility, precheck = channelFirst, checked?: 'before-handler'): { access: RouteAccess } => ({
  access: { ability, scope: 'project', credentials: 'basic-only', precheck, ...(checked ? { checked } : {}) },
});

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

    const base = '/projects/:id/packages/helm';

    app.get(`${base}/:channel/index.yaml`, { schema: { params: ProjectChannel }, config: helmAccess('read_package') }, async (request, reply) => {
      const doc = await services.helm.index.read(request.projectAccess!.project.id, request.params.channel, request.headers['if-none-match']);
      reply.header('etag', doc.etag);
      if (doc.notModified) return reply.code(304).send();
      // The document's parts, one after the other: no copy of a multi-megabyte index per response or per revision.
      return reply.type('text/yaml').header('content-length', doc.length).send(Readable.from(doc.parts, { objectMode: false }));
    });

    app.get(
      `${base}/:channel/charts/:file`,
      { schema: { params: Type.Object({ id: Type.String(), channel: Channel, file: Type.String() }) }, config: helmAccess('read_package', chartFileFirst) },
      async (request, reply) => {
        const { channel, file } = request.params;
        const download = await services.helm.charts.download(request.projectAccess!.project.id, channel, file);
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

    app.post(`${base}/api/:channel/charts`, { schema: { params: ProjectChannel }, config: helmAccess('create_package') }, async (request, reply) => {
      await services.helm.upload.uploadChart(request.projectAccess!, request.params.channel, openUploadParts(request, 'chart'), {
        force: forced(request.query),
      });
      return reply.code(201).send({ message: '201 Created' });
    });

    app.post(`${base}/api/:channel/prov`, { schema: { params: ProjectChannel }, config: helmAccess('create_package') }, async (request, reply) => {
      await services.helm.upload.uploadProvenance(request.projectAccess!, request.params.channel, openUploadParts(request, 'prov'), {
        force: forced(request.query),
      });
      return reply.code(201).send({ message: '201 Created' });
    });

    app.delete(
      `${base}/api/:channel/charts/:name/:version`,
      {
        schema: { params: Type.Object({ id: Type.String(), channel: Channel, name: Type.String(), version: Type.String() }) },
        // It takes no body; one sent anyway is read within the default limit before the check, as always.
        config: helmAccess('destroy_package', channelFirst, 'before-handler'),
      },
      async (request) => {
        const { channel, name, version } = request.params;
        const target = request.projectAccess!;
        await services.helm.charts.delete(target, channel, name, version, auditContext(request, target.identity));
        // ChartMuseum's answer, which scripts written for it check.
        return { deleted: true };
      },
    );
  };
