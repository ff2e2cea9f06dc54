/** What a request adds to the audit events of the changes it makes: its caller and the client's address. */
import type { FastifyRequest } from 'fastify';
import { authorOf, type AuditContext } from '../domain/audit.js';
import { ANONYMOUS, type Identity } from '../domain/access/identity.js';

/**
 * `request.ip` is the socket's peer, or with `trustProxy` the client named by `X-Forwarded-For` (Fastify's rules):
 * behind a proxy, set `WHARF_TRUST_PROXY`, or every event shows the proxy's address.
 */
export const auditContext = (request: FastifyRequest, caller: Identity = ANONYMOUS): AuditContext => ({ author: authorOf(caller), ip: request.ip });
