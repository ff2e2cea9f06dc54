/** The hot lane's memory stays bounded: by answers, by variants per URL, oldest out first. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { HotLane, replayable } from '../../src/http/hot-lane.js';
import { AccessLog } from '../../src/http/plugins/access-log.js';

async function laneServer(options: { maxEntries?: number }) {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  // The database never changes here: only the bounds can make the lane forget.
  const lane = new HotLane({ current: () => 1 }, new AccessLog(sink as never, 'info'), { trustProxy: false, ...options });
  const app = Fastify({
    serverFactory: (handler) =>
      createServer((req, res) => {
        if (!lane.serve(req, res)) handler(req, res);
      }),
  });
  lane.register(app);
  const routed: string[] = [];
  app.get<{ Params: { n: string } }>('/doc/:n', async (request) => {
    routed.push(`${request.params.n} ${request.headers['if-none-match'] ?? '-'}`);
    replayable(request);
    return `document ${request.params.n}`;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const get = async (n: number, ifNoneMatch?: string) => {
    const r = await fetch(`${base}/doc/${n}`, { headers: ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {} });
    assert.equal(await r.text(), `document ${n}`);
  };
  return { app, routed, get };
}

describe('hot lane bounds', () => {
  const apps: { close(): Promise<unknown> }[] = [];
  after(() => Promise.all(apps.map((a) => a.close())));

  it('replays a repeated read without routing it', async () => {
    const s = await laneServer({});
    apps.push(s.app);
    await s.get(1);
    await s.get(1);
    assert.deepEqual(s.routed, ['1 -']);
  });

  it('keeps at most 8 variants of one URL, the oldest out first', async () => {
    const s = await laneServer({});
    apps.push(s.app);
    await s.get(1);
    for (let i = 0; i < 9; i++) await s.get(1, `"v${i}"`);
    assert.equal(s.routed.length, 10);
    // The 8 newest variants are replayed.
    for (let i = 1; i < 9; i++) await s.get(1, `"v${i}"`);
    assert.equal(s.routed.length, 10);
    // The two oldest were dropped and go to the route again.
    await s.get(1);
    await s.get(1, '"v0"');
    assert.deepEqual(s.routed.slice(10), ['1 -', '1 "v0"']);
  });

  it('keeps at most maxEntries answers, the URL answered longest ago out first', async () => {
    const s = await laneServer({ maxEntries: 3 });
    apps.push(s.app);
    for (const n of [1, 2, 3]) await s.get(n);
    await s.get(1); // replayed, and now the most recently kept is still 3
    await s.get(4); // a fourth answer: URL 1, kept first, goes
    assert.deepEqual(s.routed, ['1 -', '2 -', '3 -', '4 -']);
    for (const n of [2, 3, 4]) await s.get(n);
    assert.equal(s.routed.length, 4);
    await s.get(1);
    assert.deepEqual(s.routed.slice(4), ['1 -']);
  });
});
