/**
 * `npm run bench [-- --quick] [-- --only npm|helm|proxy|oci]`: Wharf against Verdaccio 6 (npm), Debian's
 * docker-registry (OCI pulls of Helm charts) and the raw Node.js limit (a bare node:http server answering the same
 * bytes), side by side in one run, on loopback.
 *
 * Every server runs in its own process; autocannon runs here. Every scenario first checks that each target
 * answers correctly: a wrong answer fails the run instead of becoming a number. The table goes to stdout and,
 * with the machine description, to bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { get, load, median, type LoadRequest, type LoadResult } from './lib/load.js';
import { cpuMs, freePort, peakRssMb, spawnServer, type Proc } from './lib/procs.js';
import { packageTgz, publishBody } from '../test/helpers/npm.js';
import { chartTgz } from './lib/charts.js';
import { proxyMissing, timedInstall, verdaccioConfig } from './lib/proxy.js';
import { helmArtifact, OCI_MANIFEST, pushHelmArtifact, sha256Digest, startDockerRegistry, type HelmArtifact } from './lib/oci.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const DURATION = QUICK ? 3 : 10;
const CONNECTIONS = 20;
const HELM_VERSIONS = Number(process.env.WHARF_BENCH_HELM_VERSIONS ?? 10_000);
/** Added by the fake upstream to every answer: a registry across a network, not on loopback. */
const UPSTREAM_LATENCY_MS = Number(process.env.WHARF_BENCH_UPSTREAM_LATENCY_MS ?? 10);
/** `--only proxy`: the proxied-npm scenarios alone; they also run with `--only npm` and in a full run. */
const RUN_NPM = ONLY === undefined || ONLY === 'npm';
const RUN_HELM = ONLY === undefined || ONLY === 'helm';
const RUN_PROXY = ONLY === undefined || ONLY === 'npm' || ONLY === 'proxy';
const RUN_OCI = ONLY === undefined || ONLY === 'oci';
const ROOT_TOKEN = `bench-root-token-${randomBytes(12).toString('hex')}`;
const work = mkdtempSync(path.join(os.tmpdir(), 'wharf-bench-'));
const log = (msg: string) => process.stdout.write(`${msg}\n`);

interface Row {
  scenario: string;
  unit: string;
  wharf?: number;
  verdaccio?: number;
  limit?: number;
  /** For rates higher is better; for latencies and memory lower is better. */
  better: 'higher' | 'lower';
  note?: string;
}
const rows: Row[] = [];
/** Server CPU per answered request (µs) by scenario and target: what a server costs, whatever caps throughput. */
const cpuRows: { scenario: string; wharf?: number; verdaccio?: number; limit?: number }[] = [];
/** The OCI scenarios' own table: every target's rate, latencies, bytes per second and CPU per request. */
const ociRows: { scenario: string; target: string; result: LoadResult; cpuUs: number }[] = [];
/** Every server started, so a failing run still stops them all. */
const running: Proc[] = [];
const targets: { name: string; ok: boolean; detail: string }[] = [];

// ---------------------------------------------------------------------------------------------------------------
// Servers

async function track(p: Promise<Proc>): Promise<Proc> {
  const proc = await p;
  running.push(proc);
  return proc;
}

/** A Wharf with its own data under `work/<name>-data` (the proxy scenarios use a second one, see `seedProxy`). */
async function startWharf(name = 'wharf'): Promise<Proc> {
  const port = await freePort();
  const dataDir = path.join(work, `${name}-data`);
  return track(spawnServer({
    name,
    command: process.execPath,
    // WHARF_BENCH_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, to profile Wharf under the bench's load.
    args: [...(process.env.WHARF_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), path.join(REPO, 'bin/wharf.js'), 'serve'],
    cwd: REPO,
    env: {
      WHARF_HOST: '127.0.0.1',
      WHARF_PORT: String(port),
      WHARF_DATA_DIR: dataDir,
      WHARF_ROOT_TOKEN: ROOT_TOKEN,
      WHARF_EXTERNAL_URL: `http://127.0.0.1:${port}`,
      WHARF_DATABASE_URL: '',
    },
    url: `http://127.0.0.1:${port}`,
    readyPath: '/-/readiness',
    logFile: path.join(work, `${name}.log`),
  }));
}

/** Verdaccio 6 is installed on demand into a cache directory outside the project, never as a dependency. */
function ensureVerdaccio(): string {
  const dir = path.join(os.tmpdir(), 'wharf-bench-verdaccio-6');
  if (existsSync(path.join(dir, 'node_modules/verdaccio/package.json'))) return dir;
  log(`installing Verdaccio 6 into ${dir} …`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'wharf-bench-verdaccio', private: true, dependencies: { verdaccio: '6' }, overrides: { 'node-fetch': '2.7.0' } }, null, 2),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

/** A Verdaccio in `work/<name>`; with `uplink`, every package it lacks is proxied (and cached) from there. */
async function startVerdaccio(name = 'verdaccio', uplink?: string): Promise<{ proc: Proc; token: string }> {
  const install = ensureVerdaccio();
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, 'storage'), { recursive: true });
  writeFileSync(path.join(dir, 'config.yaml'), verdaccioConfig(uplink));
  const port = await freePort();
  const proc = await track(spawnServer({
    name,
    command: process.execPath,
    args: [path.join(install, 'node_modules/verdaccio/bin/verdaccio'), '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
    cwd: dir,
    url: `http://127.0.0.1:${port}`,
    readyPath: '/-/ping',
    logFile: path.join(work, `${name}.log`),
  }));
  const r = await fetch(`${proc.url}/-/user/org.couchdb.user:bench`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', password: 'bench-password-1' }),
  });
  const { token } = (await r.json()) as { token: string };
  if (!token) throw new Error(`could not create a Verdaccio user: ${r.status}`);
  return { proc, token };
}

/** The fake upstream registry (bench/lib/fake-upstream-server.ts) in a process of its own. */
async function startUpstream(): Promise<Proc> {
  const port = await freePort();
  return track(spawnServer({
    name: 'upstream',
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO, 'bench/lib/fake-upstream-server.ts'), String(port), String(UPSTREAM_LATENCY_MS)],
    cwd: REPO,
    url: `http://127.0.0.1:${port}`,
    readyPath: '/bench-probe',
    logFile: path.join(work, 'upstream.log'),
  }));
}

async function startLimit(responses: Record<string, { status: number; headers: Record<string, string>; body: string }>): Promise<Proc> {
  const file = path.join(work, 'limit-responses.json');
  writeFileSync(file, JSON.stringify(responses));
  const port = await freePort();
  return track(spawnServer({
    name: 'limit',
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO, 'bench/lib/limit-server.ts'), String(port), file],
    cwd: REPO,
    url: `http://127.0.0.1:${port}`,
    readyPath: '/-/limit-ready',
    logFile: path.join(work, 'limit.log'),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Seeding

const api = async (base: string, method: string, url: string, body?: unknown, token = ROOT_TOKEN) => {
  const r = await fetch(`${base}/api/v4${url}`, {
    method,
    headers: { 'private-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : null,
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, any>) : {};
};

const payload = randomBytes(12_000).toString('base64');
function npmPublishBody(name: string, version: string, registry: string) {
  const tgz = packageTgz({ name, version, main: 'index.js' }, { 'index.js': 'module.exports = 42;\n', 'data.txt': payload });
  return publishBody(name, version, { tgz, registry }).body;
}

interface NpmTarget {
  name: 'wharf' | 'verdaccio';
  /** Registry base URL for packuments (`<base><escaped name>`). */
  registry: string;
  token: string;
}

async function publishTo(t: NpmTarget, name: string, version: string): Promise<number> {
  const started = performance.now();
  const r = await fetch(`${t.registry}${name.replace('/', '%2f')}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json', 'npm-command': 'publish' },
    body: JSON.stringify(npmPublishBody(name, version, t.registry)),
  });
  const text = await r.text();
  const ms = performance.now() - started;
  if (r.status !== 200 && r.status !== 201) throw new Error(`${t.name}: publish ${name}@${version} → ${r.status} ${text}`);
  return ms;
}

async function versionCount(t: NpmTarget, name: string): Promise<number> {
  const r = await fetch(`${t.registry}${name.replace('/', '%2f')}`, { headers: { authorization: `Bearer ${t.token}` } });
  if (r.status !== 200) return 0;
  return Object.keys(((await r.json()) as { versions?: object }).versions ?? {}).length;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

const fmt = (n: number | undefined, unit: string): string =>
  n === undefined ? '–' : unit === 'req/s' ? Math.round(n).toLocaleString('en-US') : unit === 'MB' ? n.toFixed(0) : n.toFixed(1);
const ratio = (a: number | undefined, b: number | undefined, better: Row['better']): string => {
  if (a === undefined || b === undefined || a === 0 || b === 0) return '–';
  const r = better === 'higher' ? a / b : b / a;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}x`;
};
const pct = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '–' : `${Math.round((a / b) * 100)}%`);

function table(): string {
  const head = '| scenario | unit | Wharf | Verdaccio | limit | Wharf/Verdaccio | Wharf/limit |\n|---|---|---:|---:|---:|---:|---:|';
  const body = rows.map(
    (r) =>
      `| ${r.scenario}${r.note ? ` (${r.note})` : ''} | ${r.unit} | ${fmt(r.wharf, r.unit)} | ${fmt(r.verdaccio, r.unit)} | ${fmt(r.limit, r.unit)} | ${ratio(r.wharf, r.verdaccio, r.better)} | ${r.better === 'higher' ? pct(r.wharf, r.limit) : '–'} |`,
  );
  return [head, ...body].join('\n');
}

function cpuTable(): string {
  const us = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(0));
  const head = '| scenario | Wharf | Verdaccio | limit | Verdaccio/Wharf |\n|---|---:|---:|---:|---:|';
  const body = cpuRows.map(
    (r) => `| ${r.scenario} | ${us(r.wharf)} | ${us(r.verdaccio)} | ${us(r.limit)} | ${r.wharf && r.verdaccio ? `${(r.verdaccio / r.wharf).toFixed(1)}x` : '–'} |`,
  );
  return [head, ...body].join('\n');
}

/** Who a scenario loads: `registry` is docker-registry, the OCI scenarios' peer. */
type Target = 'wharf' | 'verdaccio' | 'registry' | 'limit';
const TARGETS: readonly Target[] = ['wharf', 'verdaccio', 'registry', 'limit'];

/** A load scenario: the request per target; `pids` names a target's process when it is not the run's main one. */
interface Scenario {
  name: string;
  unit: string;
  requests: Partial<Record<Target, LoadRequest>>;
  pids?: Partial<Record<Target, number>>;
  /** Reported in the OCI table (with latencies and MB/s) instead of the main one. */
  oci?: true;
}

function target(name: string, ok: boolean, detail: string): void {
  targets.push({ name, ok, detail });
  log(`  target ${ok ? 'MET ' : 'MISSED'}: ${name} — ${detail}`);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  log(`Wharf benchmark${QUICK ? ' (quick)' : ''}: ${DURATION} s per scenario, ${CONNECTIONS} connections; work dir ${work}`);
  const wharf = await startWharf();
  log(`wharf ready in ${wharf.startMs.toFixed(0)} ms at ${wharf.url}`);
  const verdaccioStarted = RUN_NPM ? await startVerdaccio() : undefined;
  if (verdaccioStarted) log(`verdaccio ready in ${verdaccioStarted.proc.startMs.toFixed(0)} ms at ${verdaccioStarted.proc.url}`);

  // A public project at the top-level group `bench`, so `@bench/*` also resolves at instance level.
  const group = await api(wharf.url, 'POST', '/groups', { name: 'bench', path: 'bench', visibility: 'public' });
  const project = await api(wharf.url, 'POST', '/projects', { name: 'registry', namespace_id: group.id, visibility: 'public' });
  const user = await api(wharf.url, 'POST', '/users', { username: 'reader', name: 'Reader', email: 'reader@bench.test', password: 'reader-password' });
  await api(wharf.url, 'POST', `/projects/${project.id}/members`, { user_id: user.id, access_level: 20 });
  const readerToken = (await api(wharf.url, 'POST', `/users/${user.id}/personal_access_tokens`, { name: 'bench', scopes: ['read_api'] })).token as string;

  const W: NpmTarget = { name: 'wharf', registry: `${wharf.url}/api/v4/projects/${project.id}/packages/npm/`, token: ROOT_TOKEN };
  const V: NpmTarget | undefined = verdaccioStarted ? { name: 'verdaccio', registry: `${verdaccioStarted.proc.url}/`, token: verdaccioStarted.token } : undefined;
  const npmTargets = [W, ...(V ? [V] : [])];
  const limitResponses: Record<string, { status: number; headers: Record<string, string>; body: string }> = {};
  const scenarios: Scenario[] = [];

  if (RUN_NPM) {
    log('seeding npm: @bench/big × 300 versions, @bench/small × 10 versions, in both registries …');
    for (const t of npmTargets) {
      for (let i = 0; i < 300; i++) await publishTo(t, '@bench/big', `1.0.${i}`);
      for (let i = 0; i < 10; i++) await publishTo(t, '@bench/small', `2.0.${i}`);
    }

    // Sequential publish latency, median of 50.
    const publishMs: Record<string, number> = {};
    for (const t of npmTargets) {
      const times: number[] = [];
      for (let i = 0; i < 50; i++) times.push(await publishTo(t, '@bench/seq', `3.0.${i}`));
      publishMs[t.name] = median(times);
    }
    rows.push({ scenario: 'sequential publish, median of 50', unit: 'ms', wharf: publishMs.wharf, verdaccio: publishMs.verdaccio, better: 'lower' });

    // 20 concurrent publishes of distinct versions of one package: how many landed.
    const landed: Record<string, number> = {};
    for (const t of npmTargets) {
      await Promise.allSettled(Array.from({ length: 20 }, (_, i) => publishTo(t, '@bench/conc', `4.0.${i}`)));
      landed[t.name] = await versionCount(t, '@bench/conc');
    }
    rows.push({ scenario: '20 concurrent publishes, versions landed', unit: 'of 20', wharf: landed.wharf, verdaccio: landed.verdaccio, better: 'higher' });

    const pkgPath = (t: NpmTarget) => `${t.registry}@bench%2fbig`;
    // npm asks for full packuments with `Accept: application/json` (npm view) and abbreviated ones when installing.
    const fullAccept = { accept: 'application/json' };
    const wharfDoc = await get(pkgPath(W), fullAccept);
    const wharfFull = Buffer.from(await wharfDoc.arrayBuffer());
    const etag = wharfDoc.headers.get('etag') ?? '';
    const abbrevAccept = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
    const wharfAbbrevRes = await get(pkgPath(W), { accept: abbrevAccept });
    const wharfAbbrev = Buffer.from(await wharfAbbrevRes.arrayBuffer());
    const tarballUrl = (doc: Buffer) => (JSON.parse(doc.toString('utf8')) as { versions: Record<string, { dist: { tarball: string } }> }).versions['1.0.150']!.dist.tarball;
    const wharfTarballUrl = tarballUrl(wharfFull);
    const wharfTarball = Buffer.from(await (await get(wharfTarballUrl)).arrayBuffer());
    const verdaccioTarballUrl = V ? tarballUrl(Buffer.from(await (await get(pkgPath(V), { authorization: `Bearer ${V.token}` })).arrayBuffer())) : '';
    const notFound = await get(`${W.registry}@bench%2fnope`);
    const notFoundBody = Buffer.from(await notFound.arrayBuffer());

    const canned = (key: string, status: number, body: Buffer, headers: Record<string, string>) => {
      limitResponses[key] = { status, headers, body: body.toString('base64') };
    };
    canned('/full', 200, wharfFull, { 'content-type': 'application/json', etag });
    canned('/abbrev', 200, wharfAbbrev, { 'content-type': 'application/vnd.npm.install-v1+json' });
    canned('/tarball', 200, wharfTarball, { 'content-type': 'application/octet-stream' });
    canned('/missing', 404, notFoundBody, { 'content-type': 'application/json' });

    const has300 = (_s: number, body: Buffer) => {
      const n = Object.keys((JSON.parse(body.toString('utf8')) as { versions: object }).versions).length;
      if (n !== 300) throw new Error(`packument has ${n} versions, expected 300`);
    };
    const sameTarball = (_s: number, body: Buffer) => {
      if (body.length < 10_000) throw new Error(`tarball of ${body.length} bytes`);
    };
    const verdaccioAuth: Record<string, string> = V ? { authorization: `Bearer ${V.token}` } : {};
    scenarios.push(
      {
        name: 'full packument, 300 versions',
        unit: 'req/s',
        requests: {
          wharf: { url: pkgPath(W), headers: fullAccept, expectStatus: 200, check: has300 },
          ...(V ? { verdaccio: { url: pkgPath(V), headers: fullAccept, expectStatus: 200, check: has300 } } : {}),
          limit: { url: '/full', headers: fullAccept, expectStatus: 200, check: has300 },
        },
      },
      {
        name: 'abbreviated packument, 300 versions',
        unit: 'req/s',
        requests: {
          wharf: { url: pkgPath(W), headers: { accept: abbrevAccept }, expectStatus: 200, check: has300 },
          ...(V ? { verdaccio: { url: pkgPath(V), headers: { accept: abbrevAccept }, expectStatus: 200, check: has300 } } : {}),
          limit: { url: '/abbrev', expectStatus: 200, check: has300 },
        },
      },
      {
        name: 'authenticated packument read (Bearer)',
        unit: 'req/s',
        requests: {
          wharf: { url: pkgPath(W), headers: { ...fullAccept, authorization: `Bearer ${readerToken}` }, expectStatus: 200, check: has300 },
          ...(V ? { verdaccio: { url: pkgPath(V), headers: { ...fullAccept, ...verdaccioAuth }, expectStatus: 200, check: has300 } } : {}),
          limit: { url: '/full', headers: { ...fullAccept, authorization: `Bearer ${readerToken}` }, expectStatus: 200, check: has300 },
        },
      },
      {
        name: 'tarball download (~16 KB)',
        unit: 'req/s',
        requests: {
          wharf: { url: wharfTarballUrl, expectStatus: 200, check: sameTarball },
          ...(V ? { verdaccio: { url: verdaccioTarballUrl, expectStatus: 200, check: sameTarball } } : {}),
          limit: { url: '/tarball', expectStatus: 200, check: sameTarball },
        },
      },
      {
        name: 'packument 404',
        unit: 'req/s',
        requests: {
          wharf: { url: `${W.registry}@bench%2fnope`, expectStatus: 404 },
          ...(V ? { verdaccio: { url: `${V.registry}@bench%2fnope`, expectStatus: 404 } } : {}),
          limit: { url: '/missing', expectStatus: 404 },
        },
      },
      {
        name: 'If-None-Match revalidation (304)',
        unit: 'req/s',
        requests: {
          wharf: { url: pkgPath(W), headers: { ...fullAccept, 'if-none-match': etag }, expectStatus: 304 },
          limit: { url: '/full', headers: { ...fullAccept, 'if-none-match': etag }, expectStatus: 304 },
        },
      },
    );
  }

  if (RUN_PROXY) await seedProxy(scenarios);

  if (RUN_HELM) {
    await seedHelm(wharf.url, project.id as number, scenarios, limitResponses);
  }

  const registry = RUN_OCI ? await seedOci(wharf.url, group.id as number, { id: user.id as number, token: readerToken }, scenarios, limitResponses) : undefined;

  const limit = await startLimit(limitResponses);
  const results: Record<string, Partial<Record<Target, LoadResult>>> = {};
  const pids: Partial<Record<Target, number>> = { wharf: wharf.child.pid!, verdaccio: verdaccioStarted?.proc.child.pid, registry: registry?.child.pid, limit: limit.child.pid! };
  // A server's first load also pays for compiling its hot paths (JIT): of two scenarios doing the same work on a fresh
  // process, whichever ran first cost 20-60% more CPU per request. Each process gets one unmeasured second first.
  const warmed = new Set<number>();
  for (const s of scenarios) {
    results[s.name] = {};
    const cpu: Partial<Record<Target, number>> = {};
    for (const which of TARGETS) {
      const req = s.requests[which];
      if (!req) continue;
      const full = which === 'limit' ? { ...req, url: limit.url + req.url } : req;
      const pid = s.pids?.[which] ?? pids[which]!;
      if (!warmed.has(pid)) {
        warmed.add(pid);
        await load(full, 1, CONNECTIONS);
      }
      const cpuBefore = cpuMs(pid);
      const r = await load(full, DURATION, CONNECTIONS);
      cpu[which] = ((cpuMs(pid) - cpuBefore) * 1000) / Math.max(1, r.total);
      if (r.wrong > 0) throw new Error(`${s.name} on ${which}: ${r.wrong} of ${r.total} answers were wrong (statuses ${JSON.stringify(r.statuses)})`);
      results[s.name]![which] = r;
      const mbs = s.oci ? `, ${(r.bytesPerSec / 1e6).toFixed(1)} MB/s` : '';
      log(`  ${s.name} — ${which}: ${Math.round(r.rps)} req/s${mbs}, p50 ${r.p50} ms, p99 ${r.p99} ms, server CPU ${cpu[which]!.toFixed(0)} µs/request`);
      if (s.oci) ociRows.push({ scenario: s.name, target: which, result: r, cpuUs: cpu[which]! });
    }
    if (s.oci) continue;
    cpuRows.push({ scenario: s.name, wharf: cpu.wharf, verdaccio: cpu.verdaccio, limit: cpu.limit });
    const r = results[s.name]!;
    rows.push({ scenario: s.name, unit: s.unit, wharf: r.wharf?.rps, verdaccio: r.verdaccio?.rps, limit: r.limit?.rps, better: 'higher' });
  }

  if (RUN_HELM) await helmUploadLatency(wharf.url, project.id as number);

  rows.push({
    scenario: 'time to first 200 on readiness',
    unit: 'ms',
    wharf: wharf.startMs,
    verdaccio: verdaccioStarted?.proc.startMs,
    limit: limit.startMs,
    better: 'lower',
    ...(registry ? { note: `docker-registry: ${registry.startMs.toFixed(0)} ms` } : {}),
  });
  rows.push({
    scenario: 'peak RSS over the whole run',
    unit: 'MB',
    wharf: peakRssMb(wharf.child.pid!),
    verdaccio: verdaccioStarted ? peakRssMb(verdaccioStarted.proc.child.pid!) : undefined,
    limit: peakRssMb(limit.child.pid!),
    better: 'lower',
    ...(registry ? { note: `docker-registry: ${peakRssMb(registry.child.pid!).toFixed(0)} MB` } : {}),
  });

  checkTargets(results);
  report();
}

// ---------------------------------------------------------------------------------------------------------------
// The caching npm proxy (docs/npm-proxy.md): Wharf's instance endpoint and a Verdaccio uplink, both in front of
// the same fake upstream (the tests' 16-package tree, with UPSTREAM_LATENCY_MS per answer).

const ABBREVIATED_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

/**
 * On a Wharf of their own, so that forwarding (on here, off by default) changes nothing the other scenarios
 * measure (a packument 404 would become a proxied lookup).
 */
async function seedProxy(scenarios: Scenario[]): Promise<void> {
  log(`proxy: a fake upstream (${UPSTREAM_LATENCY_MS} ms per answer), a second Wharf in proxy mode and a Verdaccio with an uplink, both in front of it …`);
  const upstream = await startUpstream();
  const verdaccio = await startVerdaccio('verdaccio-uplink', upstream.url);
  const wharf = await startWharf('wharf-proxy');
  // As on the main Wharf: a public top-level group `bench`, whose `@bench/*` names are local at instance level.
  const group = await api(wharf.url, 'POST', '/groups', { name: 'bench', path: 'bench', visibility: 'public' });
  const project = await api(wharf.url, 'POST', '/projects', { name: 'registry', namespace_id: group.id, visibility: 'public' });
  const W: NpmTarget = { name: 'wharf', registry: `${wharf.url}/api/v4/projects/${project.id}/packages/npm/`, token: ROOT_TOKEN };
  await api(wharf.url, 'PUT', '/application/settings', {
    npm_package_requests_forwarding: true,
    npm_package_requests_forwarding_url: upstream.url,
    npm_package_requests_forwarding_mode: 'proxy',
  });
  const missing = await proxyMissing(wharf.url);
  if (missing) {
    // Not an error of the run: a Wharf without the caching proxy still gets every other number.
    log(`  proxied scenarios SKIPPED: this Wharf does not proxy npm packages (${missing})`);
    target('proxied npm scenarios ran', false, `skipped, this Wharf does not proxy: ${missing}`);
    return;
  }
  const instance = `${wharf.url}/api/v4/packages/npm/`;
  const auth = [`${instance.replace(/^https?:/, '')}:_authToken=${ROOT_TOKEN}`];
  const cold = { wharf: await timedInstall(instance, path.join(work, 'install-cold-wharf'), auth), verdaccio: await timedInstall(`${verdaccio.proc.url}/`, path.join(work, 'install-cold-verdaccio')) };
  rows.push({ scenario: `cold npm install of the 16-package tree through the proxy (upstream ${UPSTREAM_LATENCY_MS} ms per answer)`, unit: 'ms', ...cold, better: 'lower' });
  const warm = { wharf: await timedInstall(instance, path.join(work, 'install-warm-wharf'), auth), verdaccio: await timedInstall(`${verdaccio.proc.url}/`, path.join(work, 'install-warm-verdaccio')) };
  rows.push({ scenario: 'npm install of the tree, proxy cache filled, npm cache empty', unit: 'ms', ...warm, better: 'lower' });
  log(`  cold install: Wharf ${cold.wharf.toFixed(0)} ms, Verdaccio ${cold.verdaccio.toFixed(0)} ms; warm: Wharf ${warm.wharf.toFixed(0)} ms, Verdaccio ${warm.verdaccio.toFixed(0)} ms`);

  // A local package of the same shape (4 versions) beside the proxied fx-alpha, both read at the instance endpoint.
  for (let i = 0; i < 4; i++) await publishTo(W, '@bench/twin', `1.${i}.0`);
  const versions = (n: number) => (_s: number, body: Buffer) => {
    const doc = JSON.parse(body.toString('utf8')) as { versions: Record<string, { dist: { tarball: string } }> };
    if (Object.keys(doc.versions).length !== n) throw new Error(`packument has ${Object.keys(doc.versions).length} versions, expected ${n}`);
  };
  const wharfTarballs = (_s: number, body: Buffer) => {
    versions(4)(_s, body);
    const doc = JSON.parse(body.toString('utf8')) as { versions: Record<string, { dist: { tarball: string } }> };
    for (const m of Object.values(doc.versions)) if (!m.dist.tarball.startsWith(instance)) throw new Error(`proxied tarball URL ${m.dist.tarball} is not Wharf's instance endpoint`);
  };
  const accept = { accept: ABBREVIATED_ACCEPT };
  scenarios.push(
    {
      name: 'cached proxied packument (abbreviated, 4 versions)',
      unit: 'req/s',
      requests: {
        wharf: { url: `${instance}fx-alpha`, headers: accept, expectStatus: 200, check: wharfTarballs },
        verdaccio: { url: `${verdaccio.proc.url}/fx-alpha`, headers: accept, expectStatus: 200, check: versions(4) },
      },
      pids: { wharf: wharf.child.pid!, verdaccio: verdaccio.proc.child.pid! },
    },
    {
      name: 'local packument at the instance endpoint (abbreviated, 4 versions)',
      unit: 'req/s',
      requests: { wharf: { url: `${instance}@bench%2ftwin`, headers: accept, expectStatus: 200, check: versions(4) } },
      pids: { wharf: wharf.child.pid! },
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Helm

const helmBase = (base: string, projectId: number) => `${base}/api/v4/projects/${projectId}/packages/helm`;
const basicRoot = `Basic ${Buffer.from(`root:${ROOT_TOKEN}`).toString('base64')}`;

async function uploadChart(base: string, projectId: number, channel: string, name: string, version: string): Promise<void> {
  const form = new FormData();
  form.append('chart', new Blob([chartTgz(name, version)]), `${name}-${version}.tgz`);
  const r = await fetch(`${helmBase(base, projectId)}/api/${channel}/charts`, { method: 'POST', headers: { authorization: basicRoot }, body: form });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`helm upload ${name}-${version} to ${channel}: ${r.status} ${text}`);
}

async function seedHelm(
  base: string,
  projectId: number,
  scenarios: Scenario[],
  limitResponses: Record<string, { status: number; headers: Record<string, string>; body: string }>,
): Promise<void> {
  log(`seeding helm: ${HELM_VERSIONS} chart versions in channel "stable", 100 in "small" …`);
  const started = performance.now();
  const jobs = Array.from({ length: HELM_VERSIONS }, (_, i) => [`bench-chart-${i % 100}`, `1.${Math.floor(i / 100)}.0`] as const);
  for (let i = 0; i < jobs.length; i += 8) {
    await Promise.all(jobs.slice(i, i + 8).map(([n, v]) => uploadChart(base, projectId, 'stable', n, v)));
  }
  for (let i = 0; i < 100; i++) await uploadChart(base, projectId, 'small', `small-chart-${i % 10}`, `1.${Math.floor(i / 10)}.0`);
  log(`  seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const indexUrl = `${helmBase(base, projectId)}/stable/index.yaml`;
  const index = await get(indexUrl, { authorization: basicRoot });
  const indexBody = Buffer.from(await index.arrayBuffer());
  const entryCount = (body: Buffer) => (body.toString('utf8').match(/^ {4}digest: /gm) ?? []).length;
  if (entryCount(indexBody) !== HELM_VERSIONS) throw new Error(`index.yaml lists ${entryCount(indexBody)} versions, expected ${HELM_VERSIONS}`);
  const chartUrl = `${helmBase(base, projectId)}/stable/charts/bench-chart-7-1.42.0.tgz`;
  const chart = Buffer.from(await (await get(chartUrl, { authorization: basicRoot })).arrayBuffer());
  limitResponses['/index.yaml'] = { status: 200, headers: { 'content-type': 'text/yaml', etag: index.headers.get('etag') ?? '' }, body: indexBody.toString('base64') };
  limitResponses['/chart.tgz'] = { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: chart.toString('base64') };
  const fullIndex = (_s: number, body: Buffer) => {
    if (entryCount(body) !== HELM_VERSIONS) throw new Error(`index.yaml lists ${entryCount(body)} versions`);
  };
  scenarios.push(
    {
      name: `Helm index.yaml, ${HELM_VERSIONS.toLocaleString('en-US')} versions`,
      unit: 'req/s',
      requests: { wharf: { url: indexUrl, expectStatus: 200, check: fullIndex }, limit: { url: '/index.yaml', expectStatus: 200, check: fullIndex } },
    },
    {
      name: 'Helm chart download',
      unit: 'req/s',
      requests: { wharf: { url: chartUrl, expectStatus: 200 }, limit: { url: '/chart.tgz', expectStatus: 200 } },
    },
  );
}

/** Upload + the next index.yaml read that shows the new chart, at 100 and at 10,000 versions in the channel. */
async function helmUploadLatency(base: string, projectId: number): Promise<void> {
  const timed = async (channel: string, name: string, version: string) => {
    const started = performance.now();
    await uploadChart(base, projectId, channel, name, version);
    const body = await (await fetch(`${helmBase(base, projectId)}/${channel}/index.yaml`, { headers: { authorization: basicRoot } })).text();
    const ms = performance.now() - started;
    if (!body.includes(`version: "${version}"`) || !body.includes(`${name}-${version}.tgz`)) throw new Error(`${channel}: the new chart is not in index.yaml`);
    return ms;
  };
  const at100: number[] = [];
  const atMany: number[] = [];
  for (let i = 0; i < 10; i++) {
    at100.push(await timed('small', 'latency-chart', `9.0.${i}`));
    atMany.push(await timed('stable', 'latency-chart', `9.0.${i}`));
  }
  rows.push({ scenario: 'Helm upload + index read, 100 versions', unit: 'ms', wharf: median(at100), better: 'lower' });
  rows.push({ scenario: `Helm upload + index read, ${HELM_VERSIONS.toLocaleString('en-US')} versions`, unit: 'ms', wharf: median(atMany), better: 'lower' });
  const ratioMany = median(atMany) / median(at100);
  target('Helm upload + next index read at 10,000 versions <= 3x the time at 100', ratioMany <= 3, `${ratioMany.toFixed(2)}x`);
}

// ---------------------------------------------------------------------------------------------------------------
// OCI (docs/helm-oci.md): anonymous pulls of one Helm artifact from Wharf and from docker-registry, same bytes

const OCI_SCENARIOS = {
  manifest: 'OCI manifest GET by tag',
  small: 'OCI blob GET, ~16 KB chart layer',
  big: 'OCI blob GET, ~5 MB chart layer',
  manifestAuth: 'OCI manifest GET by tag, Basic PAT (Wharf only)',
  smallAuth: 'OCI blob GET, ~16 KB, Basic PAT (Wharf only)',
} as const;

const OCI_NOTE =
  'The same two Helm artifacts (config, chart layer, manifest; the layers are real chart archives carrying a random, incompressible payload) pushed through the distribution API to Wharf (a public project, SQLite + files, its defaults) and to Debian\'s docker-registry (the CNCF distribution reference registry: filesystem storage, in-memory blob descriptor cache, no auth, logging at `error` as Verdaccio does here), then pulled anonymously: the manifest by tag, and each chart layer by digest. The Basic PAT rows are Wharf with a Reporter\'s personal access token, for information. The limit answers the same bytes from memory. MB/s counts everything received (headers and bodies).';

async function seedOci(
  base: string,
  groupId: number,
  reader: { id: number; token: string },
  scenarios: Scenario[],
  limitResponses: Record<string, { status: number; headers: Record<string, string>; body: string }>,
): Promise<Proc | undefined> {
  // A project of its own: OCI pushes are listed in its `stable` channel, not in the Helm scenarios' one.
  const project = await api(base, 'POST', '/projects', { name: 'oci', namespace_id: groupId, visibility: 'public' });
  await api(base, 'POST', `/projects/${project.id}/members`, { user_id: reader.id, access_level: 20 });
  const small = helmArtifact('chart-16k', '1.0.0', 15_600);
  const big = helmArtifact('chart-5m', '1.0.0', 5_000_000);
  log(`oci: pushing a ${small.layer.length}-byte and a ${big.layer.length}-byte chart to Wharf (bench/oci) and to docker-registry …`);
  const started = await startDockerRegistry(work);
  if (started.proc) running.push(started.proc);
  else {
    log(`  docker-registry SKIPPED: ${started.missing}; Wharf and the limit still run`);
    target('OCI pulls compared with docker-registry', false, `skipped: ${started.missing}`);
  }
  const registry = started.proc;
  const repo = (a: HelmArtifact) => `bench/oci/${a.chart}`;
  for (const a of [small, big]) {
    await pushHelmArtifact(base, repo(a), a, { authorization: basicRoot });
    if (registry) await pushHelmArtifact(registry.url, repo(a), a);
  }

  const same = (expected: Buffer) => (_s: number, body: Buffer, headers: Headers) => {
    if (!body.equals(expected)) throw new Error(`answered ${body.length} bytes that are not the ${expected.length} pushed`);
    if (headers.get('docker-content-digest') !== sha256Digest(expected)) throw new Error(`Docker-Content-Digest is ${headers.get('docker-content-digest')}`);
  };
  const canned = (key: string, bytes: Buffer, type: string) => {
    limitResponses[key] = { status: 200, headers: { 'content-type': type, 'docker-content-digest': sha256Digest(bytes) }, body: bytes.toString('base64') };
  };
  canned('/oci/manifest', small.manifest, OCI_MANIFEST);
  canned('/oci/blob-16k', small.layer, 'application/octet-stream');
  canned('/oci/blob-5m', big.layer, 'application/octet-stream');

  const manifestUrl = (b: string) => `${b}/v2/${repo(small)}/manifests/${small.version}`;
  const blobUrl = (b: string, a: HelmArtifact) => `${b}/v2/${repo(a)}/blobs/${sha256Digest(a.layer)}`;
  // What helm sends when it asks for a chart's manifest.
  const accept = { accept: OCI_MANIFEST };
  const pat = { authorization: `Basic ${Buffer.from(`reader:${reader.token}`).toString('base64')}` };
  const of = (urlOf: (b: string) => string, limitPath: string, expected: Buffer, headers: Record<string, string> = {}) => ({
    wharf: { url: urlOf(base), headers, expectStatus: 200, check: same(expected) },
    ...(registry ? { registry: { url: urlOf(registry.url), headers, expectStatus: 200, check: same(expected) } } : {}),
    limit: { url: limitPath, headers, expectStatus: 200, check: same(expected) },
  });
  scenarios.push(
    { name: OCI_SCENARIOS.manifest, unit: 'req/s', oci: true, requests: of(manifestUrl, '/oci/manifest', small.manifest, accept) },
    { name: OCI_SCENARIOS.small, unit: 'req/s', oci: true, requests: of((b) => blobUrl(b, small), '/oci/blob-16k', small.layer) },
    { name: OCI_SCENARIOS.big, unit: 'req/s', oci: true, requests: of((b) => blobUrl(b, big), '/oci/blob-5m', big.layer) },
    {
      name: OCI_SCENARIOS.manifestAuth,
      unit: 'req/s',
      oci: true,
      requests: { wharf: { url: manifestUrl(base), headers: { ...accept, ...pat }, expectStatus: 200, check: same(small.manifest) } },
    },
    {
      name: OCI_SCENARIOS.smallAuth,
      unit: 'req/s',
      oci: true,
      requests: { wharf: { url: blobUrl(base, small), headers: pat, expectStatus: 200, check: same(small.layer) } },
    },
  );
  return registry;
}

function ociTable(): string {
  const names: Record<string, string> = { wharf: 'Wharf', registry: 'docker-registry', limit: 'limit' };
  const head = '| scenario | target | req/s | p50 ms | p99 ms | MB/s | server CPU µs/request | Wharf/docker-registry |\n|---|---|---:|---:|---:|---:|---:|---:|';
  const body = ociRows.map((r) => {
    const peer = ociRows.find((o) => o.scenario === r.scenario && o.target === 'registry');
    const vs = r.target === 'wharf' && peer ? `${((r.result.rps / peer.result.rps) * 100).toFixed(0)}%` : '–';
    return `| ${r.scenario} | ${names[r.target] ?? r.target} | ${Math.round(r.result.rps).toLocaleString('en-US')} | ${r.result.p50} | ${r.result.p99} | ${(r.result.bytesPerSec / 1e6).toFixed(1)} | ${r.cpuUs.toFixed(0)} | ${vs} |`;
  });
  return [head, ...body].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

function checkTargets(results: Record<string, Partial<Record<Target, LoadResult>>>): void {
  const rate = (s: string, w: Target) => results[s]?.[w]?.rps;
  const vs = (s: string, minVerdaccio: number | undefined, minLimit: number) => {
    const w = rate(s, 'wharf');
    const v = rate(s, 'verdaccio');
    const l = rate(s, 'limit');
    if (w === undefined || l === undefined) return;
    if (minVerdaccio !== undefined && v !== undefined) target(`${s}: >= ${minVerdaccio}x Verdaccio`, w / v >= minVerdaccio, `${(w / v).toFixed(1)}x`);
    target(`${s}: >= ${Math.round(minLimit * 100)}% of the limit`, w / l >= minLimit, `${((w / l) * 100).toFixed(1)}%`);
  };
  vs('full packument, 300 versions', 20, 0.4);
  vs('abbreviated packument, 300 versions', 20, 0.4);
  vs('authenticated packument read (Bearer)', undefined, 0.35);
  vs('tarball download (~16 KB)', 5, 0.3);
  vs('If-None-Match revalidation (304)', undefined, 0.4);
  vs('packument 404', undefined, 0.4);
  vs(`Helm index.yaml, ${HELM_VERSIONS.toLocaleString('en-US')} versions`, undefined, 0.4);
  const proxied = rate('cached proxied packument (abbreviated, 4 versions)', 'wharf');
  const local = rate('local packument at the instance endpoint (abbreviated, 4 versions)', 'wharf');
  if (proxied !== undefined && local !== undefined) {
    target('cached proxied packument within 10% of a local packument', proxied >= 0.9 * local, `${((proxied / local) * 100).toFixed(1)}% of the local rate`);
  }
  const cold = rows.find((r) => r.scenario.startsWith('cold npm install'));
  if (cold?.wharf !== undefined && cold.verdaccio !== undefined) {
    target('cold install through the proxy faster than Verdaccio’s uplink', cold.wharf < cold.verdaccio, `${cold.wharf.toFixed(0)} ms vs ${cold.verdaccio.toFixed(0)} ms`);
  }
  const seq = rows.find((r) => r.scenario.startsWith('sequential publish'));
  if (seq?.wharf !== undefined && seq.verdaccio !== undefined) {
    target('sequential publish median <= 1/3 of Verdaccio’s', seq.wharf <= seq.verdaccio / 3, `${seq.wharf.toFixed(1)} ms vs ${seq.verdaccio.toFixed(1)} ms`);
  }
  const conc = rows.find((r) => r.scenario.startsWith('20 concurrent'));
  if (conc?.wharf !== undefined) target('20 concurrent publishes: 20 of 20 land', conc.wharf === 20, `${conc.wharf} of 20`);
  // Issue 15: anonymous pulls of the same artifact, Wharf against docker-registry in the same run.
  const vsRegistry = (s: string, min: number, wording: string) => {
    const w = rate(s, 'wharf');
    const d = rate(s, 'registry');
    if (w !== undefined && d !== undefined) target(`${s}: ${wording} docker-registry`, w >= min * d, `${Math.round(w).toLocaleString('en-US')} vs ${Math.round(d).toLocaleString('en-US')} req/s (${((w / d) * 100).toFixed(0)}%)`);
  };
  vsRegistry(OCI_SCENARIOS.manifest, 1, 'at least as fast as');
  vsRegistry(OCI_SCENARIOS.small, 1, 'at least as fast as');
  vsRegistry(OCI_SCENARIOS.big, 0.7, 'within 30% of');
}

function report(): void {
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
  const command = `npm run bench${QUICK ? ' -- --quick' : ''}${ONLY ? ` -- --only ${ONLY}` : ''}`;
  const peak = rows.find((r) => r.scenario.startsWith('peak RSS'));
  if (peak?.wharf !== undefined) target('peak RSS over the whole run <= 250 MB', peak.wharf <= 250, `${peak.wharf.toFixed(0)} MB`);
  const met = targets.filter((t) => t.ok).length;
  const oci = ociRows.length === 0 ? [] : ['## OCI pulls (Helm over OCI)', '', OCI_NOTE, '', ociTable(), ''];
  const md = [
    '# Benchmark results',
    '',
    `Run on ${new Date().toISOString()} with \`${command}\` (${DURATION} s per scenario, ${CONNECTIONS} connections, autocannon, loopback).`,
    '',
    `Machine: ${machine}.`,
    '',
    'Wharf runs with its defaults (SQLite + files, one request log line per request at `info`); Verdaccio 6 with htpasswd auth, no uplinks, logging at `error` (for the proxied-npm scenarios, a second Wharf in proxy mode and a second Verdaccio with an uplink, both in front of the same fake upstream); the limit is a bare `node:http` server answering the same bytes from memory. Every scenario first checked each target\'s answer; during the load autocannon counts the bytes of each answer without decoding them (see docs/performance.md), and every answer had at least the checked body\'s length.',
    '',
    table(),
    '',
    '## Server CPU per request',
    '',
    'Microseconds of CPU (user + system, every thread) each server process used per answered request during the scenario, read from `/proc`. Unlike requests per second, this is not capped by the load generator, which shares the machine with the servers.',
    '',
    cpuTable(),
    '',
    ...oci,
    `## Targets (${met} of ${targets.length} met)`,
    '',
    ...targets.map((t) => `- ${t.ok ? '✅' : '❌'} ${t.name}: ${t.detail}`),
    '',
  ].join('\n');
  log(`\n${table()}\n\nserver CPU per request (µs):\n${cpuTable()}\n${ociRows.length ? `\nOCI pulls:\n${ociTable()}\n` : ''}`);
  log(`targets met: ${met} of ${targets.length}`);
  const out = path.join(REPO, 'bench', QUICK || ONLY ? 'RESULTS.quick.md' : 'RESULTS.md');
  writeFileSync(out, md);
  log(`written to ${path.relative(REPO, out)}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(running.map((p) => p.stop()));
    if (!process.env.WHARF_BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  });
