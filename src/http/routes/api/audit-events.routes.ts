/**
 * GitLab's instance audit events (`GET /audit_events`, `GET /audit_events/:id`): administrators only, newest first,
 * filtered by time and entity, paginated like every list. What is recorded is in docs/design/audit-log.md.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import type { AuditEventRow } from '../../../domain/records.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { adminOnly } from './guards.js';

/** GitLab's `AuditEventEntity`: the columns, and `details` with the author, target, address and entity path. */
export const presentAuditEvent = (e: AuditEventRow) => ({
  id: e.id,
  author_id: e.author_id,
  entity_id: e.entity_id,
  entity_type: e.entity_type,
  event_name: e.event_name,
  details: {
    ...(JSON.parse(e.details) as Record<string, unknown>),
    author_name: e.author_name,
    target_id: e.target_id,
    target_type: e.target_type,
    target_details: e.target_details,
    ip_address: e.ip_address,
    entity_path: e.entity_path,
  },
  created_at: e.created_at,
});

export const auditEventRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;

    app.get(
      '/audit_events',
      {
        config: adminOnly(),
        schema: {
          querystring: Type.Object({
            ...PageQuery,
            created_after: Type.Optional(Type.String()),
            created_before: Type.Optional(Type.String()),
            entity_type: Type.Optional(Type.String()),
            entity_id: Type.Optional(Type.Integer()),
          }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        const page = pageOf(request.query);
        const { items, total } = await services.audit.list(caller, request.query, page);
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        return items.map(presentAuditEvent);
      },
    );

    app.get('/audit_events/:id', { config: adminOnly(), schema: { params: Type.Object({ id: Type.Integer() }) } }, async (request) => {
      const caller = await request.caller({ required: true });
      return presentAuditEvent(await services.audit.get(caller, request.params.id));
    });
  };
