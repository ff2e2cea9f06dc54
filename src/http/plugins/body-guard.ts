/**
 * A body is read only for a caller who may send it.
 *
 * Fastify reads and parses a request body after the `onRequest` and `preParsing` hooks and before the handler,
 * so checks made in a handler come too late: an anonymous 450 MB PUT would be held in memory before its 401. A
 * route therefore declares its ability (`config.access`, `route-access.ts`), and a write's checks — the caller,
 * the token's scope, the caller's rights on the project the path names — run in `onRequest`, with the same errors
 * (and so the same answers) the handler would give.
 *
 * A refusal leaves the body unread. Node's HTTP server would then read and discard all the rest of it to keep the
 * connection alive, and closing at once instead makes the kernel answer the client's next bytes with a reset,
 * which can destroy the answer before the client has read it (npm would report ECONNRESET, not "401"). So after
 * an answer sent while the body is still arriving, the connection lingers: up to `DRAIN_BYTES` more are read and
 * dropped (nothing is kept), then reading stops, and after `DRAIN_MS` the connection is cut. A client that stops
 * sending when it sees the answer keeps its connection; one that goes on has a few megabytes read from it.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const limits = new WeakMap<FastifyRequest, number>();

/** A per-request body limit decided before parsing (it may depend on the path or a runtime setting). */
export function setBodyLimit(request: FastifyRequest, limit: number): void {
  limits.set(request, limit);
}

/** The request's limit: the one decided for it, else the route's `bodyLimit`. */
export function bodyLimitOf(request: FastifyRequest): number {
  return limits.get(request) ?? request.routeOptions.bodyLimit ?? 1024 * 1024;
}

/** Whether the request announced a body (a length above zero, or chunks). */
export function hasBody(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

export function registerBodyGuard(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    // `complete` is false while body bytes are still due (it is absent on test requests made with `inject()`).
    if (request.raw.complete === false && hasBody(request)) {
      // Fastify asks for `Connection: close` when it stops reading a body (413); the lingering drain does that job
      // without the reset that an immediate close would cause.
      reply.removeHeader('connection');
      lingerThenCut(request.raw);
    }
    done(null, payload);
  });
}

/** Body bytes read and dropped after an early answer before the connection is cut. */
export const DRAIN_BYTES = 1024 * 1024;
/** How long an early answer's connection may linger with a body nobody wants. */
export const DRAIN_MS = 3000;

const draining = new WeakSet<IncomingMessage>();

function lingerThenCut(req: IncomingMessage): void {
  if (draining.has(req)) return;
  draining.add(req);
  let dropped = 0;
  const cut = () => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(cut, DRAIN_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    // Reading stops (a paused request stops its socket once a few kilobytes are buffered); the client's writes
    // stall while it reads the answer, until the cut.
    if (dropped > DRAIN_BYTES) req.pause();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
