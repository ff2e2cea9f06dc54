/**
 * One structured log line per request (request id, method, route, status, error code, duration), written when the response is
 * done. Secrets never reach the log: credential headers are not logged at all and token-like query parameters are
 * masked in the URL.
 */
import type { FastifyInstance } from 'fastify';
import { errorCodeOf, type AccessLog } from './access-log.js';

export { redactUrl } from './access-log.js';

/** pino redaction paths, for anything that logs headers (error objects, debug logs). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["private-token"]',
  'req.headers["deploy-token"]',
  'req.headers["job-token"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["private-token"]',
  'headers["deploy-token"]',
  'headers.cookie',
  'password',
  'token',
  '*.password',
  '*.token',
];

export function registerRequestLogging(app: FastifyInstance, accessLog: AccessLog): void {
  app.addHook('onResponse', (request, reply, done) => {
    accessLog.write({
      reqId: request.id,
      method: request.method,
      url: request.url,
      route: request.routeOptions.url ?? null,
      status: reply.statusCode,
      durationMs: reply.elapsedTime,
      remoteAddress: request.ip,
      code: errorCodeOf(reply),
    });
    done();
  });
}
