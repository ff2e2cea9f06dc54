/**
 * GitLab's package-management API (docs/design/gitlab-compatibility.md#package-management-api; `lib/api/project_packages.rb`, `group_packages.rb`,
 * `package_files.rb`). Registered in its own scope: unlike the rest of the management API, deploy tokens may use it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import type { PackageAbility } from '../../../domain/access/abilities.js';
import type { PackageFileRow, PackageFilter, PackageListRow, PackageStatus } from '../../../domain/records.js';
import type { RouteAccess } from '../../plugins/route-access.js';
import { auditContext } from '../../audit-context.js';
import { attachmentDisposition } from '../../content-disposition.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';

const ListQuery = Type.Object({
  ...PageQuery,
  package_type: Type.Optional(Type.Union([Type.Literal('npm'), Type.Literal('helm')])),
  package_name: Type.Optional(Type.String()),
  package_version: Type.Optional(Type.String()),
  status: Type.Optional(
    Type.Union(['default', 'hidden', 'processing', 'error', 'pending_destruction', 'deprecated'].map((s) => Type.Literal(s))),
  ),
  include_versionless: Type.Optional(Type.Boolean()),
  order_by: Type.Optional(Type.Union(['created_at', 'name', 'version', 'type'].map((s) => Type.Literal(s)))),
  sort: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
});
const ProjectParams = Type.Object({ id: Type.String({ minLength: 1 }) });
const PackageParams = Type.Object({ id: Type.String({ minLength: 1 }), package_id: Type.Integer({ minimum: 1 }) });
const FileParams = Type.Object({ id: Type.String({ minLength: 1 }), package_id: Type.Integer({ minimum: 1 }), package_file_id: Type.Integer({ minimum: 1 }) });

type ListQueryValue = {
  package_type?: 'npm' | 'helm' | undefined;
  package_name?: string | undefined;
  package_version?: string | undefined;
  status?: string | undefined;
  order_by?: string | undefined;
  sort?: 'asc' | 'desc' | undefined;
};
/**
 * The packages API's abilities, decided by the route-access hook in GitLab's order: the project (404 when the caller
 * cannot see it, 403 when only its packages are out of reach), then the package the service looks up. Deploy tokens
 * may use it, unlike the rest of the management API. A delete's caller is established before anything (an
 * anonymous delete is a 401 whatever it names), its ability once the parameters are valid, as before; protection
 * rules are checked by the service inside the delete's transaction.
 */
const packagesAccess = (ability: PackageAbility, scope: 'project' | 'group' = 'project'): { access: RouteAccess } => ({
  access: {
    ability,
    scope,
    credentials: 'standard',
    routeKind: 'plain',
    ...(ability === 'destroy_package' ? { checked: 'caller-before-body' as const } : {}),
  },
});

const filterOf = (q: ListQueryValue): PackageFilter => ({
  packageType: q.package_type,
  packageName: q.package_name,
  packageVersion: q.package_version,
  status: q.status as PackageStatus | undefined,
  orderBy: (q.order_by ?? 'created_at') as PackageFilter['orderBy'],
  sort: q.sort ?? 'asc',
});

export const packageRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;

    const presentPackage = (p: PackageListRow | (Omit<PackageListRow, 'project_path'> & { project_path?: string }), tags: string[]) => ({
      id: p.id,
      name: p.name,
      version: p.version,
      package_type: p.package_type,
      status: p.status,
      _links: {
        web_path: `/${p.project_path ?? ''}/-/packages/${p.id}`,
        delete_api_path: `${config.externalUrl}/api/v4/projects/${p.project_id}/packages/${p.id}`,
      },
      created_at: p.created_at,
      last_downloaded_at: null,
      project_id: p.project_id,
      project_path: p.project_path,
      tags: tags.map((name) => ({ name })),
      pipeline: null,
      pipelines: [],
    });
    const presentFile = (f: PackageFileRow) => ({
      id: f.id,
      package_id: f.package_id,
      created_at: f.created_at,
      file_name: f.file_name,
      size: f.size,
      file_md5: null,
      file_sha1: f.sha1,
      file_sha256: f.sha256,
      pipelines: [],
    });
    const presentList = async (items: PackageListRow[]) => {
      const tags = await services.packages.tagsOf(items.map((i) => i.id));
      return items.map((p) => presentPackage(p, tags.get(p.id) ?? []));
    };

    app.get('/projects/:id/packages', { config: packagesAccess('read_package'), schema: { params: ProjectParams, querystring: ListQuery } }, async (request, reply) => {
      const page = pageOf(request.query);
      const { items, total } = await services.packages.listProject(request.projectAccess!.project.id, filterOf(request.query), page);
      setPaginationHeaders(request, reply, config.externalUrl, page, total);
      return presentList(items);
    });

    app.get('/groups/:id/packages', { config: packagesAccess('read_package', 'group'), schema: { params: ProjectParams, querystring: ListQuery } }, async (request, reply) => {
      const page = pageOf(request.query);
      const { identity, group } = request.groupAccess!;
      const { items, total } = await services.packages.listGroup(identity, group, filterOf(request.query), page);
      setPaginationHeaders(request, reply, config.externalUrl, page, total);
      return presentList(items);
    });

    app.get('/projects/:id/packages/:package_id', { config: packagesAccess('read_package'), schema: { params: PackageParams } }, async (request) => {
      const { project } = request.projectAccess!;
      const pkg = await services.packages.get(project.id, request.params.package_id);
      const tags = await services.packages.tagsOf([pkg.id]);
      return presentPackage({ ...pkg, project_path: project.full_path }, tags.get(pkg.id) ?? []);
    });

    // Deletes take no body; whatever one is sent is not read for an anonymous caller (the hook refuses it first).

    app.delete('/projects/:id/packages/:package_id', { schema: { params: PackageParams }, config: packagesAccess('destroy_package') }, async (request, reply) => {
      const target = request.projectAccess!;
      await services.packages.delete(target, request.params.package_id, auditContext(request, target.identity));
      return reply.code(204).send();
    });

    app.delete('/projects/:id/packages/:package_id/package_files/:package_file_id', { schema: { params: FileParams }, config: packagesAccess('destroy_package') }, async (request, reply) => {
      const target = request.projectAccess!;
      await services.packages.deleteFile(target, request.params.package_id, request.params.package_file_id, auditContext(request, target.identity));
      return reply.code(204).send();
    });

    app.get('/projects/:id/packages/:package_id/package_files', { config: packagesAccess('read_package'), schema: { params: PackageParams, querystring: Type.Object(PageQuery) } }, async (request, reply) => {
      const page = pageOf(request.query);
      const { items, total } = await services.packages.files(request.projectAccess!.project.id, request.params.package_id, page);
      setPaginationHeaders(request, reply, config.externalUrl, page, total);
      return items.map(presentFile);
    });

    app.get('/projects/:id/packages/:package_id/package_files/:package_file_id/download', { config: packagesAccess('read_package'), schema: { params: FileParams } }, async (request, reply) => {
      const { file, stream } = await services.packages.download(request.projectAccess!.project.id, request.params.package_id, request.params.package_file_id);
      return reply
        .type('application/octet-stream')
        .header('content-length', String(file.size))
        .header('content-disposition', attachmentDisposition(file.file_name))
        .header('etag', `"${file.sha256}"`)
        .send(stream);
    });
  };
