/** One load scenario against one target with autocannon, after checking that the target answers correctly. */
import autocannon from 'autocannon';

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

export async function verify(req: LoadRequest): Promise<void> {
  const r = await fetch(req.url, { method: req.method ?? 'GET', headers: { ...PLAIN, ...(req.headers ?? {}) } });
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status !== req.expectStatus) {
    throw new Error(`${req.url}: expected ${req.expectStatus}, got ${r.status}: ${body.toString('utf8').slice(0, 200)}`);
  }
  req.check?.(r.status, body, r.headers);
}

export async function load(req: LoadRequest, durationSec: number, connections: number): Promise<LoadResult> {
  await verify(req);
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
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
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
