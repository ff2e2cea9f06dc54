/** One load scenario against one target with autocannon, after checking that the target answers correctly. */
import { createRequire } from 'node:module';
import autocannon from 'autocannon';

/**
 * autocannon appends every response body to a string (`req.body += chunk`), for its `expectBody`/`verifyBody`
 * options, which the bench does not use: answers are checked before the load instead (`verify`). Decoding a 16 KB
 * gzip body as UTF-8 costs the client far more than serving it costs any server — against a bare `node:http`
 * server on this 2-core machine, 4.7k req/s with the decoding and 31k without — so it capped every large-body
 * scenario at the client's ceiling and hid the servers' differences. The queue still counts every byte, which
 * `load` uses to check that each answer was as long as the verified one.
 */
function discardBodiesInAutocannon(): void {
  const require = createRequire(import.meta.url);
  const queue = require('autocannon/lib/pipelinedRequestsQueue.js') as { prototype?: { addBody?: unknown } };
  if (typeof queue.prototype?.addBody !== 'function') {
    throw new Error('autocannon no longer has PipelinedRequestsQueue#addBody; revisit discardBodiesInAutocannon in bench/lib/load.ts');
  }
  queue.prototype.addBody = function addBody(): void {};
}
discardBodiesInAutocannon();

export interface LoadRequest {
  url: string;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  expectStatus: number;
  /** Validates one full response before the load starts; throws when the answer is wrong. */
  check?: (status: number, body: Buffer, headers: Headers) => void;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** Bytes received per second (bodies and headers), averaged over the run. */
  bytesPerSec: number;
  /** Responses whose status was not the expected one, plus errors and timeouts. */
  wrong: number;
  total: number;
  statuses: Record<string, number>;
}

/**
 * Node's fetch asks for gzip unless told otherwise, and autocannon does not; a registry rightly gives each
 * encoding its own strong ETag. Everything the bench checks or captures is therefore fetched uncompressed, the same
 * representation autocannon then loads.
 */
export const PLAIN = { 'accept-encoding': 'identity' } as const;

export async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { ...PLAIN, ...headers } });
}

/** Checks one answer and returns its body's length. */
export async function verify(req: LoadRequest): Promise<number> {
  const r = await fetch(req.url, { method: req.method ?? 'GET', headers: { ...PLAIN, ...(req.headers ?? {}) } });
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status !== req.expectStatus) {
    throw new Error(`${req.url}: expected ${req.expectStatus}, got ${r.status}: ${body.toString('utf8').slice(0, 200)}`);
  }
  req.check?.(r.status, body, r.headers);
  return body.length;
}

export async function load(req: LoadRequest, durationSec: number, connections: number): Promise<LoadResult> {
  const bodyLength = await verify(req);
  const result = await autocannon({
    url: req.url,
    method: req.method ?? 'GET',
    headers: req.headers ?? {},
    connections,
    duration: durationSec,
    pipelining: 1,
  });
  const stats = (result.statusCodeStats ?? {}) as Record<string, { count: number }>;
  let expected = 0;
  let total = 0;
  for (const [code, { count }] of Object.entries(stats)) {
    total += count;
    if (Number(code) === req.expectStatus) expected += count;
  }
  // Status line and headers come on top, so every full answer brings more bytes than its body.
  if (total > 0 && result.throughput.total / total < bodyLength) {
    throw new Error(`${req.url}: ${result.throughput.total} bytes for ${total} answers, shorter than the verified ${bodyLength}-byte body`);
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bytesPerSec: result.throughput.average,
    wrong: total - expected + result.errors + result.timeouts,
    total,
    statuses: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v.count])),
  };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
