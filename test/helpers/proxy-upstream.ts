/**
 * A minimal npm registry on loopback for the proxy's integration tests: packuments and tarballs held in memory,
 * every request logged, ETag/304 on packuments, and switches to make it fail, stall or lie.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { packageTgz, sha1Hex, sha512Sri } from './npm.js';

export interface UpstreamRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface UpstreamPackage {
  name: string;
  versions: Record<string, { tgz: Buffer; manifest: Record<string, unknown> }>;
  distTags: Record<string, string>;
  time: Record<string, string>;
}

export class ProxyUpstream {
  readonly requests: UpstreamRequest[] = [];
  readonly packages = new Map<string, UpstreamPackage>();
  /** Answers every request with this status (e.g. 500) while set. */
  failWith: number | undefined;
  /** Delays every answer by this many ms (lets concurrent misses pile up). */
  delayMs = 0;
  /** Tarball bytes served instead of the real ones, by file URL path. */
  readonly tampered = new Map<string, Buffer>();
  /** Extra fields merged into every packument (e.g. a hostile `name`). */
  override: Record<string, unknown> | undefined;
  #server: Server | undefined;
  #sockets = new Set<import('node:net').Socket>();
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
    this.#server = undefined;
  }

  /** Publishes `name@version` (a real tarball) upstream. */
  publish(name: string, version: string, extra: Record<string, unknown> = {}): Buffer {
    const manifest = { name, version, description: `${name} from upstream`, ...extra };
    const tgz = packageTgz(manifest as { name: string; version: string });
    const pkg = this.packages.get(name) ?? { name, versions: {}, distTags: {}, time: { created: '2020-01-01T00:00:00.000Z' } };
    pkg.versions[version] = { tgz, manifest };
    pkg.distTags.latest = version;
    pkg.time[version] = `2024-0${Object.keys(pkg.versions).length}-01T00:00:00.000Z`;
    pkg.time.modified = pkg.time[version]!;
    this.packages.set(name, pkg);
    return tgz;
  }

  /** The path of a tarball as this registry lists it (`/@scope/pkg/-/pkg-1.0.0.tgz`). */
  tarballPath(name: string, version: string): string {
    const base = name.slice(name.lastIndexOf('/') + 1);
    return `/${name}/-/${base}-${version}.tgz`;
  }

  count(predicate: (r: UpstreamRequest) => boolean): number {
    return this.requests.filter(predicate).length;
  }

  packumentRequests(name: string): number {
    const escaped = `/${encodeURIComponent(name).replace(/^%40/, '@')}`;
    return this.count((r) => r.url === escaped);
  }

  tarballRequests(name: string, version: string): number {
    return this.count((r) => r.url === this.tarballPath(name, version));
  }

  document(name: string): Record<string, unknown> | undefined {
    const pkg = this.packages.get(name);
    if (!pkg) return undefined;
    const versions: Record<string, unknown> = {};
    for (const [v, { tgz, manifest }] of Object.entries(pkg.versions)) {
      versions[v] = { ...manifest, dist: { tarball: `${this.url}${this.tarballPath(name, v)}`, integrity: sha512Sri(tgz), shasum: sha1Hex(tgz) } };
    }
    return { _id: name, name, 'dist-tags': pkg.distTags, versions, time: pkg.time, readme: `# ${name}`, ...this.override };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests.push({ method: req.method ?? 'GET', url: req.url ?? '', headers: req.headers });
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failWith) {
      res.writeHead(this.failWith, { 'content-type': 'application/json' }).end('{"error":"upstream trouble"}');
      return;
    }
    const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const sep = path.indexOf('/-/');
    if (sep > 0) {
      const name = path.slice(1, sep);
      const pkg = this.packages.get(name);
      const version = pkg && Object.keys(pkg.versions).find((v) => this.tarballPath(name, v) === path);
      if (!pkg || !version) {
        res.writeHead(404).end('{"error":"not found"}');
        return;
      }
      const bytes = this.tampered.get(path) ?? pkg.versions[version]!.tgz;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      // In two writes, so the proxy sees more than one chunk.
      const half = Math.floor(bytes.length / 2);
      res.write(bytes.subarray(0, half));
      setTimeout(() => res.end(bytes.subarray(half)), 5);
      return;
    }
    const doc = this.document(path.slice(1));
    if (!doc) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
      return;
    }
    const body = JSON.stringify(doc);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' }).end(body);
  }
}
