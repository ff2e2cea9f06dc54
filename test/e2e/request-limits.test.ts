/**
 * Request bodies and slow clients against a real `wharf serve` on loopback (issue 12, findings 5 and 9).
 *
 * Every route that takes a body is sent a 300 MB body by a caller who may not send it (anonymous, or signed in
 * without rights on the project), streamed from a generator with and without Content-Length. The client counts
 * the bytes the server let it write before answering or closing: a route that reads the body before refusing
 * takes all of it. Then ten such uploads run at once while the server's resident memory is sampled.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startWharf, type WharfProcess } from '../helpers/process.js';

const ROOT = 'wharf-e2e-root-token-0123456789abcdef';
const MB = 1024 * 1024;
const BODY_BYTES = 300 * MB;
/** What "a few MB" may reach: the server's reads before it refuses plus loopback socket buffers. */
const MAX_ACCEPTED = 16 * MB;
const MAX_RSS_KB = 300 * 1024;

interface Outcome {
  status: number | undefined;
  /** Body bytes the server took from the socket before it answered or closed (bounded above by kernel buffers). */
  written: number;
  head: string;
}

const CHUNK = Buffer.alloc(MB, 'A');

/** A publish-shaped body: a JSON prefix, then Base64-looking bytes for as long as the server keeps reading. */
function* body(total: number): Generator<Buffer> {
  const prefix = Buffer.from('{"name":"@acme/pkg","versions":{},"_attachments":{"pkg-1.0.0.tgz":{"data":"');
  yield prefix;
  let sent = prefix.length;
  while (sent < total) {
    const n = Math.min(CHUNK.length, total - sent);
    yield n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n);
    sent += n;
  }
}

/**
 * Sends one request over a raw socket: the head, then the body from the generator (chunked when `chunked`),
 * writing as fast as the server reads, until the server answers and closes, or everything is sent.
 */
function send(base: string, method: string, path: string, headers: Record<string, string>, opts: { chunked: boolean; total?: number; timeoutMs?: number }): Promise<Outcome> {
  const url = new URL(base);
  const total = opts.total ?? BODY_BYTES;
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let written = 0;
    let response = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
      resolve({ status: status ? Number(status) : undefined, written, head: response.slice(0, 400) });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 60_000);
    socket.on('data', (c: Buffer) => {
      response += c.toString('latin1');
      // Once answered, stop after a grace period even if the server keeps the connection open (and reading).
      if (/\r\n\r\n/.test(response)) setTimeout(finish, 2000).unref();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', async () => {
      const head = [`${method} ${path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      head.push(opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`);
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      for (const chunk of body(total)) {
        if (done || socket.destroyed) return;
        const framed = opts.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        const ok = socket.write(framed, (err) => {
          if (!err) written += chunk.length;
        });
        if (!ok) await drained(socket);
      }
      if (opts.chunked && !done && !socket.destroyed) socket.write('0\r\n\r\n');
    });
  });
}

/** Resolves when the socket can take more, or is gone. */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function api(base: string, method: string, path: string, body?: unknown, token = ROOT): Promise<any> {
  const r = await fetch(`${base}/api/v4${path}`, {
    method,
    headers: { 'private-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** The answer a caller who may not send this body gets. */
  status: number;
}

describe('request bodies are refused before they are read', { timeout: 600_000 }, () => {
  let db: TestDatabase;
  let wharf: WharfProcess;
  let cases: Case[];

  before(async () => {
    db = await createTestDatabase('sqlite');
    wharf = await startWharf({ WHARF_DATA_DIR: db.dataDir, WHARF_ROOT_TOKEN: ROOT });
    const group = await api(wharf.url, 'POST', '/groups', { name: 'acme', path: 'acme', visibility: 'public' });
    const project = await api(wharf.url, 'POST', '/projects', { path: 'p', namespace_id: group.id, visibility: 'public' });
    const secret = await api(wharf.url, 'POST', '/projects', { path: 'secret', namespace_id: group.id, visibility: 'private' });
    const user = await api(wharf.url, 'POST', '/users', { username: 'mallory', name: 'M', email: 'm@example.com', password: 'correct-horse-1' });
    const pat = await api(wharf.url, 'POST', `/users/${user.id}/personal_access_tokens`, { name: 'm', scopes: ['api'], expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10) });
    const stranger = { authorization: `Bearer ${pat.token}` };
    const json = { 'content-type': 'application/json' };
    const P = `/api/v4/projects/${project.id}/packages`;
    const S = `/api/v4/projects/${secret.id}/packages`;
    cases = [
      { name: 'npm publish', method: 'PUT', path: `${P}/npm/@acme%2fpkg`, headers: json, status: 401 },
      { name: 'npm deprecate', method: 'PUT', path: `${P}/npm/@acme%2fpkg`, headers: { ...json, 'npm-command': 'deprecate' }, status: 401 },
      { name: 'npm unpublish (keep versions)', method: 'PUT', path: `${P}/npm/@acme%2fpkg/-rev/1-abc`, headers: json, status: 401 },
      { name: 'npm dist-tag add (project)', method: 'PUT', path: `${P}/npm/-/package/@acme%2fpkg/dist-tags/next`, headers: json, status: 401 },
      { name: 'npm dist-tag add (group)', method: 'PUT', path: `/api/v4/groups/${group.id}/-/packages/npm/-/package/@acme%2fpkg/dist-tags/next`, headers: json, status: 401 },
      { name: 'npm dist-tag add (instance)', method: 'PUT', path: '/api/v4/packages/npm/-/package/@acme%2fpkg/dist-tags/next', headers: json, status: 401 },
      { name: 'npm audit (project)', method: 'POST', path: `${P}/npm/-/npm/v1/security/advisories/bulk`, headers: json, status: 401 },
      { name: 'npm audit (group)', method: 'POST', path: `/api/v4/groups/${group.id}/-/packages/npm/-/npm/v1/security/audits/quick`, headers: json, status: 401 },
      { name: 'npm audit (instance)', method: 'POST', path: '/api/v4/packages/npm/-/npm/v1/security/advisories/bulk', headers: json, status: 401 },
      // Anonymous by design: its body limit is what bounds it.
      { name: 'npm login', method: 'PUT', path: '/api/v4/packages/npm/-/user/org.couchdb.user:alice', headers: json, status: 413 },
      // Routes that take no body answer 413 once it passes the default 1 MB limit.
      { name: 'npm unpublish (DELETE with a body)', method: 'DELETE', path: `${P}/npm/@acme%2fpkg/-rev/1-abc`, headers: json, status: 413 },
      { name: 'helm chart upload (multipart)', method: 'POST', path: `${P}/helm/api/stable/charts`, headers: { 'content-type': 'multipart/form-data; boundary=xyz' }, status: 401 },
      { name: 'helm chart upload (raw)', method: 'POST', path: `${P}/helm/api/stable/charts`, headers: { 'content-type': 'application/octet-stream' }, status: 401 },
      { name: 'helm provenance upload', method: 'POST', path: `${P}/helm/api/stable/prov`, headers: { 'content-type': 'application/octet-stream' }, status: 401 },
      { name: 'API: create project', method: 'POST', path: '/api/v4/projects', headers: json, status: 401 },
      { name: 'API: application settings', method: 'PUT', path: '/api/v4/application/settings', headers: json, status: 401 },
      { name: 'API: create token (form)', method: 'POST', path: '/api/v4/user/personal_access_tokens', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 401 },
      { name: 'API: delete package', method: 'DELETE', path: `${P}/1`, headers: json, status: 401 },
      { name: 'web: sign in (anonymous by design)', method: 'POST', path: '/users/sign_in', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 413 },
      { name: 'web: create token without a session', method: 'POST', path: '/-/user_settings/personal_access_tokens', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 303 },
      { name: 'no such route', method: 'POST', path: '/api/v4/nothing/here', headers: json, status: 413 },
      // Signed in, but without rights on the project: refused before the body too.
      { name: 'npm publish to a project the caller cannot see', method: 'PUT', path: `${S}/npm/@acme%2fpkg`, headers: { ...json, ...stranger }, status: 404 },
      { name: 'npm publish as a non-member of a public project', method: 'PUT', path: `${P}/npm/@acme%2fpkg`, headers: { ...json, ...stranger }, status: 403 },
      { name: 'helm upload as a non-member', method: 'POST', path: `${P}/helm/api/stable/charts`, headers: { 'content-type': 'application/octet-stream', authorization: `Basic ${Buffer.from(`mallory:${pat.token}`).toString('base64')}` }, status: 403 },
      { name: 'API: settings as a non-admin', method: 'PUT', path: '/api/v4/application/settings', headers: { ...json, ...stranger }, status: 403 },
    ];
  });

  after(async () => {
    await wharf?.stop();
    await db?.drop();
  });

  for (const chunked of [false, true]) {
    it(`every body-taking route refuses a 300 MB body after at most a few MB (${chunked ? 'chunked' : 'Content-Length'})`, async (t) => {
      const failures: string[] = [];
      // A few at a time: each refused connection lingers for a few seconds before the server cuts it.
      for (let i = 0; i < cases.length; i += 5) {
        const batch = cases.slice(i, i + 5);
        const results = await Promise.all(batch.map((c) => send(wharf.url, c.method, c.path, c.headers ?? {}, { chunked })));
        batch.forEach((c, j) => {
          const r = results[j]!;
          const line = `${c.name}: status ${r.status}, ${(r.written / MB).toFixed(1)} MB accepted`;
          t.diagnostic(line);
          if (r.status !== c.status || r.written > MAX_ACCEPTED) failures.push(`${line} (want ${c.status}, ≤ ${MAX_ACCEPTED / MB} MB)\n${r.head}`);
        });
      }
      assert.deepEqual(failures, []);
    });
  }

  it('ten anonymous 300 MB uploads at once keep the server under 300 MB of RSS', async (t) => {
    const pid = wharf.child.pid!;
    let peak = rssKb(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 25);
    let results: Outcome[];
    try {
      results = await Promise.all(cases.slice(0, 10).map((c, i) => send(wharf.url, c.method, c.path, c.headers ?? {}, { chunked: i % 2 === 1 })));
    } finally {
      clearInterval(sampler);
    }
    const accepted = results.reduce((sum, r) => sum + r.written, 0);
    t.diagnostic(`peak RSS ${Math.round(peak / 1024)} MB; ${(accepted / MB).toFixed(1)} MB accepted by the server from ten 300 MB uploads`);
    assert.ok(peak < MAX_RSS_KB, `peak RSS ${Math.round(peak / 1024)} MB`);
    assert.ok(accepted <= 10 * MAX_ACCEPTED, `${(accepted / MB).toFixed(1)} MB accepted in all`);
    results.forEach((r, i) => assert.equal(r.status, cases[i]!.status, `${cases[i]!.name}: ${r.head}`));
    // The server still answers afterwards.
    assert.equal((await fetch(`${wharf.url}/-/readiness`)).status, 200);
  });
});

/** Opens a connection and reports, when it closes, how long it lived and what the server said. */
function connection(base: string): { socket: net.Socket; closed: Promise<{ afterMs: number; response: string }> } {
  const url = new URL(base);
  const socket = net.connect(Number(url.port), url.hostname);
  const opened = Date.now();
  let response = '';
  socket.on('data', (c: Buffer) => (response += c.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<{ afterMs: number; response: string }>((resolve) => socket.on('close', () => resolve({ afterMs: Date.now() - opened, response })));
  return { socket, closed };
}

/** Writes `data` a piece at a time, `gapMs` apart, while the socket is open. */
async function trickle(socket: net.Socket, data: Buffer, pieceBytes: number, gapMs: number): Promise<void> {
  for (let i = 0; i < data.length && !socket.destroyed; i += pieceBytes) {
    socket.write(data.subarray(i, i + pieceBytes));
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

describe('slow clients are cut off; slow but steady uploads finish', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let wharf: WharfProcess;
  let projectId: number;

  before(async () => {
    db = await createTestDatabase('sqlite');
    wharf = await startWharf({
      WHARF_DATA_DIR: db.dataDir,
      WHARF_ROOT_TOKEN: ROOT,
      WHARF_HEADERS_TIMEOUT: '2',
      WHARF_REQUEST_TIMEOUT: '6',
      WHARF_IDLE_TIMEOUT: '2',
      WHARF_KEEP_ALIVE_TIMEOUT: '2',
    });
    const group = await api(wharf.url, 'POST', '/groups', { name: 'slow', path: 'slow', visibility: 'public' });
    projectId = (await api(wharf.url, 'POST', '/projects', { path: 'p', namespace_id: group.id, visibility: 'public' })).id;
  });

  after(async () => {
    await wharf?.stop();
    await db?.drop();
  });

  it('a client trickling its headers (a byte every 500 ms) is closed at the headers timeout', { timeout: 20_000 }, async () => {
    const { socket, closed } = connection(wharf.url);
    const head = Buffer.from(`GET /-/readiness HTTP/1.1\r\nHost: x\r\n${'X-Slow: y\r\n'.repeat(100)}\r\n`);
    void trickle(socket, head, 1, 500);
    const { afterMs, response } = await closed;
    // 2 s of headers, checked every 500 ms, plus scheduling slack; the full head would take 10 s.
    assert.ok(afterMs >= 1500 && afterMs < 4500, `closed after ${afterMs} ms`);
    assert.match(response, /^HTTP\/1\.1 408/);
  });

  it('a client trickling a body (a byte every 500 ms) is closed at the request timeout', { timeout: 20_000 }, async () => {
    const { socket, closed } = connection(wharf.url);
    socket.write(`PUT /api/v4/projects/${projectId}/packages/npm/slowpkg HTTP/1.1\r\nHost: x\r\nPrivate-Token: ${ROOT}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
    void trickle(socket, Buffer.alloc(100_000, ' '), 1, 500);
    const { afterMs } = await closed;
    assert.ok(afterMs >= 5000 && afterMs < 9000, `closed after ${afterMs} ms`);
  });

  it('a body that stops arriving is closed at the idle timeout', { timeout: 20_000 }, async () => {
    const { socket, closed } = connection(wharf.url);
    socket.write(`PUT /api/v4/projects/${projectId}/packages/npm/stalled HTTP/1.1\r\nHost: x\r\nPrivate-Token: ${ROOT}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"name":`);
    const { afterMs } = await closed;
    assert.ok(afterMs >= 1500 && afterMs < 4500, `closed after ${afterMs} ms`);
  });

  it('an idle keep-alive connection is closed at the keep-alive timeout', { timeout: 20_000 }, async () => {
    const { socket, closed } = connection(wharf.url);
    socket.write('GET /-/readiness HTTP/1.1\r\nHost: x\r\n\r\n');
    const { afterMs, response } = await closed;
    assert.match(response, /^HTTP\/1\.1 200/);
    assert.ok(afterMs >= 1500 && afterMs < 4500, `closed after ${afterMs} ms`);
  });

  it('a publish sent slowly but steadily (about 4 s, a piece every 100 ms) succeeds', { timeout: 20_000 }, async () => {
    const { publishBody } = await import('../helpers/npm.js');
    const { body: doc } = publishBody('steady', '1.0.0', {});
    const payload = Buffer.from(JSON.stringify(doc));
    const { socket, closed } = connection(wharf.url);
    socket.write(`PUT /api/v4/projects/${projectId}/packages/npm/steady HTTP/1.1\r\nHost: x\r\nPrivate-Token: ${ROOT}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`);
    await trickle(socket, payload, Math.ceil(payload.length / 40), 100);
    const { response, afterMs } = await closed;
    assert.match(response, /^HTTP\/1\.1 200/, response.slice(0, 300));
    assert.ok(afterMs >= 3500, `took ${afterMs} ms`);
    const r = await fetch(`${wharf.url}/api/v4/projects/${projectId}/packages/npm/steady`);
    assert.equal(r.status, 200);
  });
});
