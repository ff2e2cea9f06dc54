/**
 * `buildApp(deps)`: the Fastify instance with every route group registered. It never listens; `main.ts` does, and
 * tests call `inject()` on it.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import pino, { type DestinationStream } from 'pino';
import type { Deps } from './compose.js';
import { registerBodyGuard } from './http/plugins/body-guard.js';
import { registerIdentity } from './http/plugins/identity.js';
import { oidcExchangeRoutes } from './http/routes/npm/oidc-exchange.routes.js';
import { trustedPublisherPages } from './web/trusted-publisher-pages.js';
import { registerRouteAccess, type DeclaredRoute } from './http/plugins/route-access.js';
import { registerBodyParsers } from './http/plugins/body-parsers.js';
import { HotLane } from './http/hot-lane.js';
import { applyServerTimeouts, serverOptions } from './http/server-timeouts.js';
import { PackageRateLimits, registerPackageRateLimits } from './http/plugins/rate-limit.js';
import { AccessLog } from './http/plugins/access-log.js';
import { registerErrorHandling } from './http/plugins/error-handler.js';
import { lazyChildLogger } from './http/plugins/lazy-logger.js';
import { REDACT_PATHS, redactUrl, registerRequestLogging } from './http/plugins/request-logging.js';
import { apiRoutes } from './http/routes/api/index.js';
import { packageRoutes } from './http/routes/api/packages.routes.js';
import { npmRoutes } from './http/routes/npm/index.js';
import { helmRoutes } from './http/routes/helm/index.js';
import { ociRoutes } from './http/routes/oci/index.js';
import { registryTokenRoutes } from './http/routes/oci/token.routes.js';
import { systemRoutes } from './http/routes/system/system.routes.js';
import { webRoutes } from './web/routes.js';

export interface BuildAppOptions {
  /** Where log lines go (tests capture them); default stdout. */
  logStream?: DestinationStream;
  /** Collects every route with its declared ability (`config.access`) as it is registered. */
  declaredRoutes?: DeclaredRoute[];
}

export type App = FastifyInstance;


export async function buildApp(deps: Deps, options: BuildAppOptions = {}): Promise<App> {
  const { config } = deps;
  // One stream for pino and for the access lines, which are written without going through pino.
  const logStream = options.logStream ?? pino.destination(1);
  const accessLog = new AccessLog(logStream, config.logLevel);
  const lane = new HotLane(deps.database.changes, accessLog, { trustProxy: config.trustProxy });
  const rateLimits = new PackageRateLimits(deps);
  const app = Fastify({
    // The hot lane sees each request first (`inject()` in tests bypasses it and always takes the long way).
    // Slow or stalled clients are cut off (`server-timeouts.ts`); Fastify's own timeout options are unused.
    serverFactory: (handler) => {
      const server = createServer(serverOptions(config), (req, res) => {
        // While the anonymous package rate limit is on, the lane stands aside so every request is counted.
        if (!(rateLimits.laneOpen() && lane.serve(req, res))) handler(req, res);
      });
      applyServerTimeouts(server, config);
      return server;
    },
    logger: {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      // Anything that logs a request shows its method and redacted URL, never its headers.
      serializers: { req: (req) => ({ method: req.method, url: redactUrl(req.url ?? '') }) },
      stream: logStream,
    },
    // Our own one-line-per-request log replaces fastify's two lines.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger, bindings, options),
    requestIdHeader: 'x-request-id',
    // Unique across instances, so a request can be followed through a load balancer's logs.
    genReqId: () => randomUUID(),
    trustProxy: config.trustProxy,
    // GitLab keeps `%2F` inside one path segment; so do we, and a few clients send very long URLs.
    routerOptions: { maxParamLength: 2048, ignoreDuplicateSlashes: false },
    bodyLimit: 1024 * 1024,
    // Scalars coerce from query and form strings; arrays never collapse to scalars (`name: ["x"]` is refused).
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // A 304 carries no representation, so no metadata about one (RFC 9110 §15.4.5): revalidations stay small.
    if (reply.statusCode !== 304) {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'SAMEORIGIN');
    }
    done(null, payload);
  });

  lane.register(app);
  registerErrorHandling(app);
  registerRequestLogging(app, accessLog);
  registerPackageRateLimits(app, rateLimits);
  registerIdentity(app, deps.services.identity, deps.services.registryTokens, deps.services.trustedPublishing);
  registerRouteAccess(app, deps.services, options.declaredRoutes);
  registerBodyGuard(app);
  registerBodyParsers(app);

  await app.register(systemRoutes(deps));
  await app.register(apiRoutes(deps), { prefix: '/api/v4' });
  await app.register(packageRoutes(deps), { prefix: '/api/v4' });
  await app.register(npmRoutes(deps), { prefix: '/api/v4' });
  await app.register(helmRoutes(deps), { prefix: '/api/v4' });
  await app.register(ociRoutes(deps));
  await app.register(registryTokenRoutes(deps));
  await app.register(oidcExchangeRoutes(deps));
  await app.register(trustedPublisherPages(deps));
  await app.register(webRoutes(deps));
  return app;
}
