/**
 * The hot lane: an anonymous GET that repeats one the framework has just answered, while the database has not
 * changed since, is answered with the same status, headers and bytes straight from the HTTP server, before routing.
 *
 * Why: an install asks for the same packuments and tarballs over and over, and once every lookup is remembered
 * (`FreshMemo`), what a `304` or a `404` still costs is mostly the framework's per-request machinery — routing,
 * request and reply objects, hooks, promise chains — about half of the CPU. The lane skips all of it.
 *
 * Why it is correct: a handler marks its request replayable (`replayable(request)`) only when its answer to an
 * anonymous caller is a function of the raw URL, the `Accept`, `Accept-Encoding` and `If-None-Match` headers and
 * the database — nothing else (no time, no cookies, no client address). The answer is stored with the database's
 * change version read *before* the request did anything (`ChangeSignal`), and served only while the version is
 * the same, so no write — here, by `wharf gc`, or by the CLI — can leave an old answer in use. Requests carrying
 * any credential, a cookie, a query string, a `Range` (an OCI blob's part) or a body never take the lane. Where the database gives no change
 * signal (PostgreSQL, several instances) the lane is off. Each answer is still logged as one access line, marked
 * `hot: true`, and gets its own request id.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { ChangeSignal } from '../services/ports.js';
import { errorCodeOf, type AccessLog, type PreparedLine } from './plugins/access-log.js';

/** Statuses worth replaying: a document, a revalidation, a name that does not exist. */
const REPLAYED_STATUSES = new Set([200, 304, 404]);

/** What a replayable answer may vary on besides the URL: its `Vary` headers plus the validator. */
interface Variant {
  accept: string;
  acceptEncoding: string;
  ifNoneMatch: string;
}

const variantOf = (req: IncomingMessage): Variant => {
  const h = req.headers;
  return { accept: h.accept ?? '', acceptEncoding: h['accept-encoding'] ?? '', ifNoneMatch: h['if-none-match'] ?? '' };
};

const sameVariant = (a: Variant, b: Variant): boolean =>
  a.ifNoneMatch === b.ifNoneMatch && a.accept === b.accept && a.acceptEncoding === b.acceptEncoding;

/** Variants held per URL, so a client cycling through `If-None-Match` values cannot make a lookup long. */
const MAX_VARIANTS = 8;

/** Only plain anonymous reads: anything that could make the answer depend on who asks goes the long way. */
function eligible(req: IncomingMessage): boolean {
  if (req.method !== 'GET' || req.url === undefined || req.url.includes('?')) return false;
  const h = req.headers;
  return (
    h.authorization === undefined &&
    h['private-token'] === undefined &&
    h['job-token'] === undefined &&
    h['deploy-token'] === undefined &&
    h.cookie === undefined &&
    h.range === undefined &&
    h['content-length'] === undefined &&
    h['transfer-encoding'] === undefined
  );
}

interface Answer extends Variant {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** Its access line's fixed part. */
  logLine: PreparedLine;
  /** `performance.now()` after which it is not replayed (Infinity: while the database is unchanged). */
  until: number;
}

export interface HotLaneOptions {
  /** As Fastify's `trustProxy`: the client address logged is then the first `X-Forwarded-For` entry. */
  trustProxy: boolean;
  maxEntries?: number;
  /** Bytes of bodies held (mostly shared with the document caches, which hold the same buffers). */
  maxBytes?: number;
}

const kVersion = Symbol('wharf.hotLaneVersion');
const kReplayable = Symbol('wharf.hotLaneReplayable');
const kReplayFor = Symbol('wharf.hotLaneReplayFor');
type LaneRequest = FastifyRequest & { [kVersion]?: number; [kReplayable]?: boolean; [kReplayFor]?: number };

/**
 * Called by a handler whose answer to an anonymous caller depends only on what the lane's key holds; `forMs`
 * bounds how long it may be replayed when it also depends on time (a proxied packument until its revalidation),
 * and 0 takes back an earlier mark.
 */
export function replayable(request: FastifyRequest, forMs = Infinity): void {
  (request as LaneRequest)[kReplayable] = forMs > 0;
  (request as LaneRequest)[kReplayFor] = forMs;
}

export class HotLane {
  readonly #changes: ChangeSignal;
  readonly #trustProxy: boolean;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  /**
   * By URL, the answers for each variant seen (usually one or two: with and without `If-None-Match`), bounded by
   * body bytes; the URL answered longest ago goes first. A replay does not count as a use: what is kept is what the
   * framework answered recently.
   */
  readonly #answers: LRUCache<string, readonly Answer[]>;
  /** Answers held over every URL (bounded by `maxEntries`), kept by the cache's dispose callback. */
  #count = 0;
  /** The database version every held answer was made at; a different one empties the lane. */
  #version: number | undefined;
  readonly #accessLog: AccessLog;

  constructor(changes: ChangeSignal, accessLog: AccessLog, options: HotLaneOptions) {
    this.#changes = changes;
    this.#accessLog = accessLog;
    this.#trustProxy = options.trustProxy;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#answers = new LRUCache<string, readonly Answer[]>({
      maxSize: this.#maxBytes,
      // lru-cache wants a positive size: a 304 or an empty body still costs an entry.
      sizeCalculation: (answers) => Math.max(1, answers.reduce((n, a) => n + a.body.length, 0)),
      dispose: (answers) => {
        this.#count -= answers.length;
      },
    });
  }

  /** Answers `req` when it may, returning true; otherwise the caller hands it to the framework. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#count === 0 || !eligible(req) || !this.#current()) return false;
    const answer = this.#find(req);
    if (answer === undefined) return false;
    const started = performance.now();
    const requestId = req.headers['x-request-id'];
    const reqId = typeof requestId === 'string' && requestId !== '' ? requestId : randomUUID();
    res.writeHead(answer.status, { ...answer.headers, 'x-request-id': reqId });
    res.end(answer.status === 304 ? undefined : answer.body);
    this.#accessLog.writePrepared(answer.logLine, reqId, performance.now() - started, this.#clientAddress(req), true);
    return true;
  }

  /** Hooks into the framework: the version is taken as a request arrives, the answer kept as it leaves. */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', (request, _reply, done) => {
      if (eligible(request.raw)) {
        const version = this.#changes.current();
        if (version !== undefined) (request as LaneRequest)[kVersion] = version;
      }
      done();
    });
    app.addHook('onSend', (request, reply, payload, done) => {
      const r = request as LaneRequest;
      if (r[kReplayable] === true && r[kVersion] !== undefined && REPLAYED_STATUSES.has(reply.statusCode)) {
        const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : payload == null ? Buffer.alloc(0) : undefined;
        // Streams (blobs not held in memory) are not replayed.
        if (body !== undefined) {
          const logLine = this.#accessLog.prepare('GET', request.raw.url!, request.routeOptions.url ?? null, reply.statusCode, errorCodeOf(reply));
          this.#keep(request.raw, r[kVersion], reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders, body, logLine, performance.now() + (r[kReplayFor] ?? Infinity));
        }
      }
      done(null, payload);
    });
  }

  #find(req: IncomingMessage): Answer | undefined {
    const answers = this.#answers.peek(req.url!);
    if (answers === undefined) return undefined;
    const variant = variantOf(req);
    const answer = answers.find((a) => sameVariant(a, variant));
    return answer !== undefined && answer.until > performance.now() ? answer : undefined;
  }

  /** True when the answers held are still current (emptying the lane when they are not). */
  #current(): boolean {
    const version = this.#changes.current();
    if (version === undefined) return false;
    if (version !== this.#version) {
      if (this.#count !== 0) this.#answers.clear();
      this.#version = version;
    }
    return true;
  }

  #keep(req: IncomingMessage, madeAt: number, status: number, replyHeaders: OutgoingHttpHeaders, body: Buffer, logLine: PreparedLine, until: number): void {
    if (!this.#current() || madeAt !== this.#version || body.length > this.#maxBytes / 16) return;
    const headers: OutgoingHttpHeaders = { ...replyHeaders };
    delete headers['x-request-id'];
    if (headers['set-cookie'] !== undefined) return;
    // As the framework sends them: no length on a 304, the body's length otherwise.
    if (status === 304) delete headers['content-length'];
    else headers['content-length'] = String(body.length);
    const url = req.url!;
    const variant = variantOf(req);
    const answers = [...(this.#answers.peek(url) ?? [])];
    const same = answers.findIndex((a) => sameVariant(a, variant));
    if (same !== -1 || answers.length >= MAX_VARIANTS) answers.splice(same !== -1 ? same : 0, 1);
    answers.push({ ...variant, status, headers, body, logLine, until });
    // Deleted first so the URL is re-inserted as the newest (and the old list's answers are uncounted).
    this.#answers.delete(url);
    this.#answers.set(url, answers);
    this.#count += answers.length;
    while (this.#count > this.#maxEntries && this.#answers.size > 0) this.#answers.pop();
  }

  /** Fastify's `request.ip`: with `trustProxy`, the original client of the forwarding chain. */
  #clientAddress(req: IncomingMessage): string | undefined {
    if (this.#trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress;
  }
}
