/**
 * The audit forwarding service against an upstream that misbehaves (in-memory ports, a loopback server): it
 * follows a redirect only to the same origin, gives up after its time bound (504) and past its size bound, and
 * calls a non-2xx or non-JSON answer a failure (502) rather than a clean report. And the body pruning, alone.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { auditNames, pruneAuditBody } from '../../src/domain/npm/audit-body.js';
import { isAppError } from '../../src/domain/errors.js';
import { NpmAuditForwardingService } from '../../src/services/npm/audit-forwarding.service.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

const service = (opts: { timeoutMs?: number; maxAnswerBytes?: number } = {}) =>
  new NpmAuditForwardingService({
    db: {},
    packages: { npmNamesAmong: async (_db, names) => names.filter((n) => n === 'mine') },
    namespaces: { topLevelPathsAmong: async (_db, paths) => paths.filter((p) => p === 'acme') },
    ...opts,
  });

const BODY = { mine: ['1.0.0'], '@acme/x': ['1.0.0'], 'left-pad': ['1.3.0'] };

async function failure(p: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isAppError(err), String(err));
    return { status: err.status, error: String(err.body.error) };
  }
  assert.fail('expected a refusal');
}

describe('npm audit forwarding against a misbehaving upstream', () => {
  const servers: Server[] = [];
  let other: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    other = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}'));
    servers.push(other.server);
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
  const upstream = async (handler: Handler) => {
    const s = await serve(handler);
    servers.push(s.server);
    return s;
  };

  it('follows a 307 on the same origin, with the token, and relays the answer as sent', async () => {
    const up = await upstream((req, res) => {
      if (req.url === '/-/npm/v1/security/advisories/bulk') res.writeHead(307, { location: '/moved/bulk' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"left-pad":[]}');
    });
    const r = await service().forward('advisories/bulk', BODY, { url: up.url, token: 't0ken', offline: false }, { gzip: false });
    assert.equal(String(r.body), '{"left-pad":[]}');
    assert.equal(r.removed, 2);
    assert.deepEqual(up.hits, ['POST /-/npm/v1/security/advisories/bulk Bearer t0ken', 'POST /moved/bulk Bearer t0ken']);
  });

  it('never follows a redirect to another host (the body and the token would go there)', async () => {
    const up = await upstream((_req, res) => res.writeHead(307, { location: `${other.url}/steal` }).end());
    const f = await failure(service().forward('advisories/bulk', BODY, { url: up.url, token: 't0ken', offline: false }, { gzip: true }));
    assert.equal(f.status, 502);
    assert.match(f.error, /redirected to another host/);
    assert.deepEqual(other.hits, []);
  });

  it('gives up after its time bound with a 504', async () => {
    const up = await upstream((_req, res) => setTimeout(() => res.writeHead(200).end('{}'), 2_000));
    const started = Date.now();
    const f = await failure(service({ timeoutMs: 200 }).forward('advisories/bulk', BODY, { url: up.url, token: null, offline: false }, { gzip: true }));
    assert.equal(f.status, 504);
    assert.ok(Date.now() - started < 1_500);
  });

  it('calls a 5xx, a 401, a non-JSON or an oversized answer a failure (502), never an empty report', async () => {
    for (const [handler, reason] of [
      [(_q, s) => s.writeHead(500).end('{}'), /answered 500/],
      [(_q, s) => s.writeHead(401).end('{}'), /answered 401/],
      [(_q, s) => s.writeHead(200, { 'content-type': 'text/html' }).end('<html>'), /not JSON/],
      [(_q, s) => s.writeHead(200).end(JSON.stringify({ pad: 'x'.repeat(5000) })), /larger than 1000 bytes/],
    ] as [Handler, RegExp][]) {
      const up = await upstream(handler);
      const f = await failure(service({ maxAnswerBytes: 1000 }).forward('advisories/bulk', BODY, { url: up.url, token: null, offline: false }, { gzip: false }));
      assert.equal(f.status, 502);
      assert.match(f.error, reason);
    }
  });

  it('prunes both body shapes by name and scope, case-insensitively for scopes', () => {
    const isPrivate = (n: string) => n === 'mine' || n.toLowerCase().startsWith('@acme/');
    assert.deepEqual(pruneAuditBody('advisories/bulk', { ...BODY, '@ACME/y': ['1'] }, isPrivate), { body: { 'left-pad': ['1.3.0'] }, remaining: 1 });
    const tree = { name: 'mine', requires: { mine: '1', a: '1' }, dependencies: { a: { version: '1', requires: { '@acme/x': '1' } }, mine: { version: '1', dependencies: { b: { version: '2' } } } } };
    assert.deepEqual([...auditNames('audits/quick', tree)].sort(), ['@acme/x', 'a', 'b', 'mine']);
    assert.deepEqual(pruneAuditBody('audits/quick', tree, isPrivate), {
      body: { requires: { a: '1' }, dependencies: { a: { version: '1', requires: {} } } },
      remaining: 1,
    });
  });
});
