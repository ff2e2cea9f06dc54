/**
 * A public npm registry in miniature, on loopback, for the proxy's tests and the bench: a generated tree of
 * packages (scoped and unscoped, three levels of dependencies, several versions each, ranges that resolve) with
 * real tarballs, full and abbreviated packuments with `time`/`modified` and ETags, the two audit endpoints, and a
 * log of every request so a test can say what Wharf asked for and what it did not.
 *
 * It can be stopped and started again on the same port (the upstream is down), made slow, made to serve other
 * bytes for one tarball than its packument's integrity promises (tampering), and be given extra packages (a
 * public `@acme/x` that must never be fetched when `acme` is a local group).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import semver from 'semver';
import { makeTgz, sha1Hex, sha512Sri } from './npm.js';

/** One version of a package the upstream serves. */
export interface FakeVersionSpec {
  version: string;
  dependencies?: Record<string, string>;
  /** Published at (ISO); defaults to a fixed date well in the past, so age gates (yarn 4, pnpm) let it through. */
  time?: string;
}

export interface FakePackageSpec {
  name: string;
  versions: FakeVersionSpec[];
  /** dist-tags.latest; the last version listed when not given. */
  latest?: string;
}

export interface LoggedRequest {
  method: string;
  /** The path as sent (percent-encoding kept), without the query string. */
  path: string;
  /** The path decoded once (`/@fx%2fbeta` → `/@fx/beta`). */
  decodedPath: string;
  headers: IncomingHttpHeaders;
  /** POST bodies, un-gzipped and parsed when JSON (else the text). */
  body?: unknown;
  status?: number;
}

export interface FakeUpstreamOptions {
  /** Packages beside (or instead of, with `tree: false`) the generated tree. */
  extra?: FakePackageSpec[];
  /** Serve the generated tree (default true). */
  tree?: boolean;
  /** Delay before every answer, in ms (settable later through `latencyMs`). */
  latencyMs?: number;
  /** Gzip packuments for clients that accept it (default true, as the public registry does). */
  gzip?: boolean;
  /** The port to listen on (default 0: any free one; `start()` after `stop()` reuses the one it got). */
  port?: number;
}

export interface FakeUpstream {
  /** `http://127.0.0.1:<port>`, no trailing slash: what `npm_package_requests_forwarding_url` takes. */
  readonly url: string;
  readonly port: number;
  /** Every request since start (or `clearLog()`), in order. */
  readonly log: LoggedRequest[];
  /** Every package served, by name. */
  readonly packages: ReadonlyMap<string, FakePackageSpec>;
  /** The tree's root dependencies (`{name: range}`): a package.json with these installs the whole tree. */
  readonly rootDependencies: Readonly<Record<string, string>>;
  /** Every name the root dependencies resolve to, transitively (what a full install fetches). */
  readonly treeNames: readonly string[];
  /** Milliseconds to wait before each answer. */
  latencyMs: number;
  /** The full packument as served (tarball URLs point at this upstream). */
  packument(name: string): FullPackument;
  /** The tarball's bytes (the genuine ones, whatever `tamper` says). */
  tarball(name: string, version: string): Buffer;
  /** The tarball's URL at this upstream. */
  tarballUrl(name: string, version: string): string;
  /** The version a range resolves to, as npm would pick it from this upstream (highest satisfying). */
  resolve(name: string, range: string): string;
  /** Serve other bytes (a valid tarball with other content) for this version; the packument keeps the old integrity. */
  tamper(name: string, version: string): void;
  untamper(name?: string, version?: string): void;
  /** Requests for a name's packument or tarballs (`/name`, `/@scope%2fname`, `/name/-/file.tgz`). */
  requestsFor(name: string): LoggedRequest[];
  /** Requests for one tarball file. */
  tarballRequests(name: string, version: string): LoggedRequest[];
  /** Audit POSTs received, with their decoded bodies. */
  auditRequests(): LoggedRequest[];
  clearLog(): void;
  /** Whether it is listening. */
  readonly running: boolean;
  /** Stops listening and drops open connections: the upstream is down. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** `stop()`, for `after()` hooks. */
  close(): Promise<void>;
}

export interface FullPackument {
  _id: string;
  name: string;
  description: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, VersionManifest>;
  time: Record<string, string>;
  modified: string;
  [k: string]: unknown;
}

/** What a version's package.json holds (and its packument entry repeats). */
export interface ManifestBase {
  name: string;
  version: string;
  description: string;
  main: string;
  license: string;
  dependencies?: Record<string, string>;
}

export interface VersionManifest extends ManifestBase {
  _id: string;
  dist: { tarball: string; shasum: string; integrity: string; fileCount: number; unpackedSize: number };
  [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// The generated tree

const VERSIONS = ['1.0.0', '1.1.0', '1.2.3', '2.0.0'] as const;
/** Ranges that all resolve among VERSIONS, to the 1.x line (so 2.0.0, the `latest`, is deliberately not taken). */
const RANGES = ['^1.1.0', '~1.2.0', '>=1.0.0 <2.0.0', '1.x', '^1.0.0'] as const;

/** Level 1 (what the consumer depends on), level 2 and level 3: 16 packages, a third of them scoped. */
const LEVELS: readonly (readonly string[])[] = [
  ['fx-alpha', '@fx/beta', 'fx-gamma', '@fx-utils/delta', 'fx-epsilon'],
  ['fx-zeta', '@fx/eta', 'fx-theta', 'fx-iota', '@fx-utils/kappa', 'fx-lambda'],
  ['fx-mu', '@fx/nu', 'fx-xi', 'fx-omicron', '@fx-utils/pi'],
];

/** A day per package and a week per version after a fixed start, all long past. */
const publishedAt = (pkg: number, ver: number): string => new Date(Date.UTC(2024, 0, 1) + (pkg + ver * 7) * 86_400_000).toISOString();

/** The generated tree: each package depends on two of the next level (picked round-robin), with a range per edge. */
export function generatedTree(): { packages: FakePackageSpec[]; roots: Record<string, string> } {
  const packages: FakePackageSpec[] = [];
  let n = 0;
  LEVELS.forEach((level, depth) => {
    const next = LEVELS[depth + 1];
    level.forEach((name, i) => {
      const index = n++;
      const deps = (v: number): Record<string, string> | undefined => {
        if (!next) return undefined;
        const out: Record<string, string> = {};
        for (const j of [i, i + 1]) out[next[j % next.length]!] = RANGES[(i + j + v) % RANGES.length]!;
        return out;
      };
      packages.push({
        name,
        versions: VERSIONS.map((version, v) => ({ version, dependencies: deps(v), time: publishedAt(index, v) })),
        latest: '2.0.0',
      });
    });
  });
  const roots: Record<string, string> = {};
  LEVELS[0]!.forEach((name, i) => (roots[name] = RANGES[i % RANGES.length]!));
  return { packages, roots };
}

// ---------------------------------------------------------------------------------------------------------------

const fileBase = (name: string): string => name.slice(name.lastIndexOf('/') + 1);
const etagOf = (body: Buffer): string => `"${createHash('sha1').update(body).digest('base64url')}"`;
const ABBREVIATED = 'application/vnd.npm.install-v1+json';

/** The tarball of one version: a package.json and an index.js that requires its dependencies. */
function buildTarball(manifest: ManifestBase, flavour = ''): Buffer {
  const deps = Object.keys(manifest.dependencies ?? {});
  const index = [
    `// ${manifest.name}@${manifest.version}${flavour}`,
    'module.exports = {',
    `  name: ${JSON.stringify(manifest.name)},`,
    `  version: ${JSON.stringify(manifest.version)},`,
    `  deps: { ${deps.map((d) => `${JSON.stringify(d)}: require(${JSON.stringify(d)}).version`).join(', ')} },`,
    '};',
    '',
  ].join('\n');
  return makeTgz([
    { path: 'package/package.json', content: JSON.stringify(manifest, null, 2) },
    { path: 'package/index.js', content: index },
  ]);
}

/** Decodes an audit body as npm sends it (gzip, JSON) or as pnpm 11 does (plain JSON). */
function decodeBody(raw: Buffer, headers: IncomingHttpHeaders): unknown {
  let bytes = raw;
  const encoding = String(headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip' || (raw[0] === 0x1f && raw[1] === 0x8b)) bytes = gunzipSync(raw);
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What the public registry would say about the tree: one advisory, for fx-theta below 1.2.0. */
const ADVISORIES: Record<string, { id: number; url: string; title: string; severity: string; vulnerable_versions: string; cwe: string[]; cvss: { score: number; vectorString: string } }[]> = {
  'fx-theta': [
    {
      id: 1099001,
      url: 'https://example.invalid/advisories/1099001',
      title: 'Prototype pollution in fx-theta',
      severity: 'moderate',
      vulnerable_versions: '<1.2.0',
      cwe: ['CWE-1321'],
      cvss: { score: 5.3, vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N' },
    },
  ],
};

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const generated = options.tree === false ? { packages: [], roots: {} } : generatedTree();
  const specs = new Map<string, FakePackageSpec>();
  for (const p of [...generated.packages, ...(options.extra ?? [])]) specs.set(p.name, p);

  const log: LoggedRequest[] = [];
  const tampered = new Set<string>();
  const gzipOn = options.gzip !== false;
  let server: Server | undefined;
  let port = options.port ?? 0;
  let url = '';

  interface Built {
    full: FullPackument;
    tarballs: Map<string, Buffer>;
    forged: Map<string, Buffer>;
    bodies?: { full: Buffer; abbreviated: Buffer; fullGz: Buffer; abbreviatedGz: Buffer; etagFull: string; etagAbbreviated: string };
  }
  const built = new Map<string, Built>();

  const tarballUrl = (name: string, version: string) => `${url}/${name}/-/${fileBase(name)}-${version}.tgz`;

  /** Builds every document once the URL is known (tarball URLs are absolute). */
  const build = () => {
    built.clear();
    for (const spec of specs.values()) {
      const versions: Record<string, VersionManifest> = {};
      const tarballs = new Map<string, Buffer>();
      const forged = new Map<string, Buffer>();
      const time: Record<string, string> = {};
      for (const v of spec.versions) {
        const manifest: ManifestBase = {
          name: spec.name,
          version: v.version,
          description: `${spec.name} for the Wharf proxy tests`,
          main: 'index.js',
          license: 'MIT',
          ...(v.dependencies && Object.keys(v.dependencies).length ? { dependencies: v.dependencies } : {}),
        };
        const tgz = buildTarball(manifest);
        tarballs.set(v.version, tgz);
        forged.set(v.version, buildTarball(manifest, ' (tampered)'));
        versions[v.version] = {
          ...manifest,
          _id: `${spec.name}@${v.version}`,
          dist: { tarball: tarballUrl(spec.name, v.version), shasum: sha1Hex(tgz), integrity: sha512Sri(tgz), fileCount: 2, unpackedSize: tgz.length * 3 },
        };
        time[v.version] = v.time ?? publishedAt(0, 0);
      }
      const sorted = Object.values(time).sort();
      const modified = sorted[sorted.length - 1]!;
      const latest = spec.latest ?? spec.versions[spec.versions.length - 1]!.version;
      const full: FullPackument = {
        _id: spec.name,
        name: spec.name,
        description: `${spec.name} for the Wharf proxy tests`,
        'dist-tags': { latest },
        versions,
        time: { created: sorted[0]!, modified, ...time },
        modified,
        license: 'MIT',
        readme: `# ${spec.name}\n`,
      };
      built.set(spec.name, { full, tarballs, forged });
    }
  };

  const bodiesOf = (b: Built) => {
    if (!b.bodies) {
      const abbreviatedDoc = {
        name: b.full.name,
        modified: b.full.modified,
        'dist-tags': b.full['dist-tags'],
        versions: Object.fromEntries(
          Object.entries(b.full.versions).map(([v, m]) => [v, { name: m.name, version: m.version, ...(m.dependencies ? { dependencies: m.dependencies } : {}), dist: m.dist }]),
        ),
      };
      const full = Buffer.from(JSON.stringify(b.full));
      const abbreviated = Buffer.from(JSON.stringify(abbreviatedDoc));
      b.bodies = { full, abbreviated, fullGz: gzipSync(full), abbreviatedGz: gzipSync(abbreviated), etagFull: etagOf(full), etagAbbreviated: etagOf(abbreviated) };
    }
    return b.bodies;
  };

  const send = (res: ServerResponse, entry: LoggedRequest, status: number, headers: Record<string, string>, body?: Buffer | string) => {
    entry.status = status;
    res.writeHead(status, headers);
    res.end(body);
  };
  const json = (res: ServerResponse, entry: LoggedRequest, status: number, value: unknown) =>
    send(res, entry, status, { 'content-type': 'application/json' }, JSON.stringify(value));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const rawPath = (req.url ?? '/').split('?')[0]!;
    let decodedPath = rawPath;
    try {
      decodedPath = decodeURIComponent(rawPath);
    } catch {
      /* logged as sent */
    }
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: rawPath, decodedPath, headers: req.headers };
    log.push(entry);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (entry.method === 'POST' || entry.method === 'PUT') entry.body = decodeBody(Buffer.concat(chunks), req.headers);
    if (upstream.latencyMs > 0) await new Promise((r) => setTimeout(r, upstream.latencyMs));

    if (entry.method === 'POST' && decodedPath === '/-/npm/v1/security/advisories/bulk') {
      const asked = (entry.body && typeof entry.body === 'object' ? entry.body : {}) as Record<string, unknown>;
      // Like the public registry: an advisory for a name, whatever versions were asked (npm matches the ranges).
      return json(res, entry, 200, Object.fromEntries(Object.keys(asked).filter((n) => ADVISORIES[n]).map((n) => [n, ADVISORIES[n]])));
    }
    if (entry.method === 'POST' && decodedPath === '/-/npm/v1/security/audits/quick') {
      // npm 6's tree; pnpm 10 nests each importer's dependencies under a pseudo-entry (`"."`), so walk it all.
      type Node = { version?: string; dependencies?: Record<string, Node> };
      const advisories: Record<string, { findings: { version: string; paths: string[] }[] }> = {};
      let seen = 0;
      const walk = (node: Node, trail: string[]) => {
        for (const [n, d] of Object.entries(node.dependencies ?? {})) {
          if (!d || typeof d !== 'object') continue;
          seen++;
          const version = d.version ?? '0.0.0';
          for (const a of ADVISORIES[n] ?? []) {
            if (!semver.satisfies(version, a.vulnerable_versions)) continue;
            const found = (advisories[a.id] ??= { ...a, module_name: n, findings: [] } as never);
            found.findings.push({ version, paths: [[...trail, n].join('>')] });
          }
          walk(d, [...trail, n]);
        }
      };
      walk((entry.body && typeof entry.body === 'object' ? entry.body : {}) as Node, []);
      const count = Object.keys(advisories).length;
      return json(res, entry, 200, {
        actions: [],
        advisories,
        muted: [],
        metadata: {
          vulnerabilities: { info: 0, low: 0, moderate: count, high: 0, critical: 0 },
          dependencies: seen,
          devDependencies: 0,
          optionalDependencies: 0,
          totalDependencies: seen,
        },
      });
    }
    if (entry.method !== 'GET' && entry.method !== 'HEAD') return json(res, entry, 405, { error: 'method not allowed' });

    // Tarball: /<name>/-/<base>-<version>.tgz
    const tgz = /^\/((?:@[^/]+\/)?[^/@][^/]*)\/-\/([^/]+)\.tgz$/.exec(decodedPath);
    if (tgz) {
      const [, name, file] = tgz as unknown as [string, string, string];
      const b = built.get(name);
      const version = file.startsWith(`${fileBase(name)}-`) ? file.slice(fileBase(name).length + 1) : undefined;
      const bytes = version === undefined ? undefined : tampered.has(`${name}@${version}`) ? b?.forged.get(version) : b?.tarballs.get(version);
      if (!bytes) return json(res, entry, 404, { error: 'Not found' });
      return send(res, entry, 200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, entry.method === 'HEAD' ? undefined : bytes);
    }

    const name = decodedPath.slice(1);
    const b = built.get(name);
    if (!b) return json(res, entry, 404, { error: 'Not found' });
    const bodies = bodiesOf(b);
    const abbreviated = String(req.headers.accept ?? '').includes(ABBREVIATED);
    const etag = abbreviated ? bodies.etagAbbreviated : bodies.etagFull;
    const headers: Record<string, string> = {
      etag,
      'last-modified': new Date(b.full.modified).toUTCString(),
      'cache-control': 'public, max-age=300',
      vary: 'Accept, Accept-Encoding',
      'content-type': abbreviated ? ABBREVIATED : 'application/json',
    };
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      return send(res, entry, 304, { etag, 'cache-control': headers['cache-control']!, vary: headers.vary! });
    }
    const gz = gzipOn && /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    if (gz) headers['content-encoding'] = 'gzip';
    const body = abbreviated ? (gz ? bodies.abbreviatedGz : bodies.abbreviated) : gz ? bodies.fullGz : bodies.full;
    headers['content-length'] = String(body.length);
    return send(res, entry, 200, headers, entry.method === 'HEAD' ? undefined : body);
  };

  const listen = async () => {
    const s = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
    port = (s.address() as AddressInfo).port;
  };

  const resolveRange = (name: string, range: string): string => {
    const spec = specs.get(name);
    if (!spec) throw new Error(`the fake upstream has no ${name}`);
    const best = semver.maxSatisfying(spec.versions.map((v) => v.version), range);
    if (!best) throw new Error(`${name}@${range} resolves to nothing`);
    return best;
  };
  /** Walks the tree from the roots as npm would resolve it (highest satisfying version of each edge). */
  const treeNames = (() => {
    const seen = new Set<string>();
    const walk = (name: string, range: string) => {
      const version = resolveRange(name, range);
      const key = `${name}@${version}`;
      if (seen.has(key)) return;
      seen.add(key);
      for (const [d, r] of Object.entries(specs.get(name)!.versions.find((v) => v.version === version)!.dependencies ?? {})) walk(d, r);
    };
    for (const [n, r] of Object.entries(generated.roots)) walk(n, r);
    return [...new Set([...seen].map((k) => k.slice(0, k.lastIndexOf('@'))))].sort();
  })();

  const matchesName = (entry: LoggedRequest, name: string) => entry.decodedPath === `/${name}` || entry.decodedPath.startsWith(`/${name}/-/`);

  const upstream: FakeUpstream = {
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    log,
    packages: specs,
    rootDependencies: generated.roots,
    treeNames,
    latencyMs: options.latencyMs ?? 0,
    packument: (name) => {
      const b = built.get(name);
      if (!b) throw new Error(`the fake upstream has no ${name}`);
      return structuredClone(b.full);
    },
    tarball: (name, version) => {
      const t = built.get(name)?.tarballs.get(version);
      if (!t) throw new Error(`the fake upstream has no ${name}@${version}`);
      return t;
    },
    tarballUrl,
    resolve: resolveRange,
    tamper: (name, version) => {
      if (!built.get(name)?.tarballs.has(version)) throw new Error(`the fake upstream has no ${name}@${version}`);
      tampered.add(`${name}@${version}`);
    },
    untamper: (name, version) => {
      if (name === undefined) tampered.clear();
      else tampered.delete(`${name}@${version}`);
    },
    requestsFor: (name) => log.filter((e) => matchesName(e, name)),
    tarballRequests: (name, version) => log.filter((e) => e.decodedPath === `/${name}/-/${fileBase(name)}-${version}.tgz`),
    auditRequests: () => log.filter((e) => e.method === 'POST' && e.decodedPath.startsWith('/-/npm/v1/security/')),
    clearLog: () => {
      log.length = 0;
    },
    get running() {
      return server !== undefined;
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      // Keep-alive sockets would otherwise keep answering from a "stopped" upstream.
      s.closeAllConnections();
      await closed;
    },
    async start() {
      if (server) return;
      await listen();
    },
    close() {
      return upstream.stop();
    },
  };

  await listen();
  url = `http://127.0.0.1:${port}`;
  build();
  return upstream;
}
