/**
 * One structured log line per request (request id, method, route, status, duration), written when the response is
 * done. Secrets never reach the log: credential headers are not logged at all and token-like query parameters are
 * masked in the URL.
 */
import type { FastifyInstance } from 'fastify';

const SECRET_PARAM = /(^|[?&])((?:private_|access_|bearer_|job_|deploy_)?token|password|secret)=[^&#]*/gi;

export const redactUrl = (url: string): string => url.replace(SECRET_PARAM, '$1$2=[REDACTED]');

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

export function registerRequestLogging(app: FastifyInstance): void {
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    // Through the root logger with the id in the line: the request's own child logger is made only when needed.
    const line = {
      reqId: request.id,
      method: request.method,
      url: redactUrl(request.url),
      route: request.routeOptions.url ?? null,
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      remoteAddress: request.ip,
    };
    if (status >= 500) app.log.error(line, 'request');
    else app.log.info(line, 'request');
    done();
  });
}
