/**
 * Proxied packuments: the upstream's document, kept as a blob with a database row, revalidated after the TTL, and
 * served in the same shapes (and from the same kind of per-process cache) as local packuments.
 *
 * Freshness (docs/design/npm-proxy.md#freshness): a row is fresh for `npm_proxy_metadata_ttl` seconds after the
 * upstream last confirmed it (a 404 for at most 60 s). A stale row is revalidated with the upstream's `ETag` /
 * `Last-Modified`; a 304 only moves `fetched_at`. When the upstream fails (unreachable, 5xx, a timeout, a document
 * that fails the checks) a stored 200 is served as it is (stale-if-error) and revalidated again on the next
 * request. One revalidation per name at a time in a process (single flight) and across instances (a lease).
 *
 * A fetched document is served as soon as it is checked: its blob (fsynced) and row are written after, while the
 * row is held in memory as the current one, so no request fetches it again meanwhile (and the lease, where there
 * is one, is held until the row is written).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../../domain/clock.js';
import { errors } from '../../../domain/errors.js';
import { proxiedPackuments, readUpstreamPackument, UpstreamDocumentError, type UpstreamPackument } from '../../../domain/npm/proxy.js';
import type { ProxiedPackumentRow } from '../../../domain/records.js';
import type { BlobStore } from '../../blob-store.js';
import { RevisionedDocuments, validatorTag } from '../../documents/revisioned-documents.js';
import { FreshMemo } from '../../fresh-memo.js';
import type { ChangeSignal, Executor } from '../../ports.js';
import type { PackumentSet } from '../metadata.service.js';
import { representationOf, type PackumentEntry } from '../packument-entry.js';
import { packumentLeaseKey, type Leases } from './lease.js';
import type { NpmProxyCachePort } from './ports.js';
import { UseCounter } from './use-counter.js';
import { SingleFlight } from './single-flight.js';
import { MAX_PACKUMENT_BYTES, UpstreamError, type UpstreamClient } from './upstream-client.js';

/** An upstream 404 is remembered this long at most: a name published upstream a minute later must install. */
export const NOT_FOUND_TTL_SECONDS = 60;
/** Hits are written to the row at most this often per name (a write moves every per-process cache). */
const USE_FLUSH_MS = 5 * 60_000;

/** What the proxy needs of the settings for one request. */
export interface ProxySettings {
  readonly upstream: string;
  readonly token: string | null;
  readonly ttlSeconds: number;
  readonly offline: boolean;
  readonly maxTarballBytes: number;
}

/** A packument set the proxy serves, with how long it may be replayed as it is. */
export interface ProxiedPackumentSet extends PackumentSet {
  /** Milliseconds until the row must be revalidated (0: now). */
  readonly freshForMs: number;
}

interface Entry extends PackumentEntry {
  /** What its ETags are derived from. */
  tag: string;
}

export interface ProxyPackumentsDeps {
  db: Executor;
  store: NpmProxyCachePort;
  blobs: BlobStore;
  client: UpstreamClient;
  clock: Clock;
  leases: Leases;
  changes: ChangeSignal;
  cacheBytes?: number;
}

export class ProxyPackuments {
  readonly #d: ProxyPackumentsDeps;
  readonly #flights = new SingleFlight<ProxiedPackumentRow>();
  /** Rows by upstream and name, while the database is unchanged. */
  readonly #rows: FreshMemo<ProxiedPackumentRow | undefined>;
  /** Checked upstream documents by blob digest (what the tarball lookups and the renderings start from). */
  readonly #parsed: LRUCache<string, UpstreamPackument>;
  /** Rendered documents by endpoint base and name. */
  readonly #documents: RevisionedDocuments<Entry>;
  /** Hits not yet written, and when each name's were last written. */
  readonly #uses = new UseCounter(USE_FLUSH_MS);
  /** Rows an upstream request of this process just returned: the requests served with them are misses, not hits. */
  readonly #fetched = new WeakSet<ProxiedPackumentRow>();
  /**
   * Fetched rows whose blob and row are still being written, by upstream and name: the current ones meanwhile (a
   * revalidation waits for the write, so it starts from the stored row).
   */
  readonly #writing = new Map<string, { row: ProxiedPackumentRow; written: Promise<void> }>();

  constructor(deps: ProxyPackumentsDeps) {
    this.#d = deps;
    this.#rows = new FreshMemo(deps.changes);
    const maxBytes = deps.cacheBytes ?? 64 * 1024 * 1024;
    this.#parsed = new LRUCache({ maxSize: maxBytes, sizeCalculation: (p) => Math.max(1, (p as UpstreamPackument & { bytes?: number }).bytes ?? 1) });
    this.#documents = new RevisionedDocuments({ maxBytes });
  }

  /**
   * The current row for `name`: the stored one while fresh (or, offline, whatever is stored), else revalidated.
   * Throws the offline 404 for a name not cached while offline, and 502 when the upstream fails with nothing stored.
   */
  async current(settings: ProxySettings, name: string, options: { force?: boolean } = {}): Promise<ProxiedPackumentRow> {
    const row = this.#writing.get(`${settings.upstream}\0${name}`)?.row ?? (await this.#row(settings.upstream, name));
    if (settings.offline) {
      if (row?.status === 200) return row;
      throw errors.npmProxyOffline(name);
    }
    if (row && !options.force && this.freshForMs(row, settings) > 0) return row;
    return this.#flights.run(`${settings.upstream}\0${name}`, () => this.#refresh(settings, name));
  }

  /** Milliseconds the row stays fresh (0 when it must be revalidated). */
  freshForMs(row: ProxiedPackumentRow, settings: ProxySettings): number {
    const ttl = row.status === 404 ? Math.min(settings.ttlSeconds, NOT_FOUND_TTL_SECONDS) : settings.ttlSeconds;
    return Math.max(0, Date.parse(row.fetched_at) + ttl * 1000 - this.#d.clock.now().getTime());
  }

  /** The checked upstream document behind a 200 row. */
  async upstreamDocument(row: ProxiedPackumentRow): Promise<UpstreamPackument> {
    const sha = row.blob_sha256!;
    const held = this.#parsed.get(sha);
    if (held) return held;
    const bytes = await this.#readBlob(sha);
    const parsed = Object.assign(readUpstreamPackument(JSON.parse(bytes.toString('utf8')), row.name), { bytes: bytes.length });
    this.#parsed.set(sha, parsed);
    return parsed;
  }

  /** The packument set of a 200 row, with tarball URLs under `base`. */
  async set(row: ProxiedPackumentRow, base: string, settings: ProxySettings): Promise<ProxiedPackumentSet> {
    if (!this.#fetched.has(row)) this.#noteUse(row);
    const key = `${base}\0${row.name}`;
    const entry = await this.#documents.get(key, { revision: row.revision, builtFor: row.blob_sha256! }, async () => {
      const upstream = await this.upstreamDocument(row);
      const built = proxiedPackuments(upstream, base, row.fetched_at);
      const full = Buffer.from(JSON.stringify(built.full));
      const abbreviated = Buffer.from(JSON.stringify(built.abbreviated));
      // The bytes are a function of the endpoint, the name and the upstream document: so is the validator.
      const tag = validatorTag(`proxy\0${key}\0${row.blob_sha256}`);
      return {
        key,
        revision: row.revision,
        builtFor: row.blob_sha256!,
        modified: built.modified,
        versionCount: upstream.versionCount,
        full,
        abbreviated,
        gzipped: {},
        bytes: full.length + abbreviated.length,
        tag,
      };
    });
    const lastModified = new Date(entry.modified);
    return {
      revision: entry.revision,
      modified: entry.modified,
      lastModified: Number.isNaN(lastModified.getTime()) ? new Date(row.fetched_at).toUTCString() : lastModified.toUTCString(),
      versionCount: entry.versionCount,
      freshForMs: this.freshForMs(row, settings),
      representation: (kind, acceptsGzip) => representationOf(entry, kind, acceptsGzip, entry.tag, () => this.#documents.grown(entry.key, entry)),
    };
  }

  clearCache(): void {
    this.#rows.clear();
    this.#parsed.clear();
    this.#documents.clear();
  }

  #row(upstream: string, name: string): Promise<ProxiedPackumentRow | undefined> {
    return this.#rows.get(`${upstream}\0${name}`, async () => {
      const row = await this.#d.store.packument(this.#d.db, upstream, name);
      return row && Object.freeze(row);
    });
  }

  async #refresh(settings: ProxySettings, name: string): Promise<ProxiedPackumentRow> {
    const { db, store, leases } = this.#d;
    const leaseKey = packumentLeaseKey(settings.upstream, name);
    await this.#writing.get(`${settings.upstream}\0${name}`)?.written;
    const known = await store.packument(db, settings.upstream, name);
    const lease = await leases.acquire(leaseKey);
    let written: Promise<void> | undefined;
    if (!lease) {
      // Another instance is fetching it: serve what is stored meanwhile, or wait for its result.
      if (known?.status === 200) return known;
      const fetched = await leases.waitFor(leaseKey, async () => {
        const now = await store.packument(db, settings.upstream, name);
        return now && now.fetched_at !== known?.fetched_at ? now : undefined;
      });
      if (fetched) return fetched;
      throw errors.npmUpstreamFailed(name, 'another instance is fetching it and has not finished');
    }
    try {
      // It may have been refreshed between our read and the lease.
      const latest = (await store.packument(db, settings.upstream, name)) ?? undefined;
      if (latest && latest.fetched_at !== known?.fetched_at && this.freshForMs(latest, settings) > 0) return latest;
      const fetched = await this.#fetch(settings, name, latest);
      written = fetched.written;
      this.#fetched.add(fetched.row);
      return fetched.row;
    } catch (err) {
      if (!(err instanceof UpstreamError || err instanceof UpstreamDocumentError || err instanceof SyntaxError)) throw err;
      // Stale-if-error: the stored document is better than a failed install.
      if (known?.status === 200) return known;
      throw errors.npmUpstreamFailed(name, err.message);
    } finally {
      // Held until the row is written, so another instance waiting for it finds it.
      if (written) void written.then(() => lease.release()).catch(() => undefined);
      else await lease.release();
    }
  }

  /** The upstream's answer as a row, and (for a new document) the write of its blob and row, still running. */
  async #fetch(settings: ProxySettings, name: string, latest: ProxiedPackumentRow | undefined): Promise<{ row: ProxiedPackumentRow; written?: Promise<void> }> {
    const { db, store, blobs, client, clock } = this.#d;
    const now = clock.now().toISOString();
    const validators = latest?.status === 200 ? { etag: latest.etag, lastModified: latest.last_modified } : { etag: null, lastModified: null };
    const answer = await client.packument(settings.upstream, name, validators, { token: settings.token, maxBytes: MAX_PACKUMENT_BYTES });
    if (answer.kind === 'not-modified' && latest?.status === 200) {
      await store.confirmPackument(db, settings.upstream, name, now);
      return { row: { ...latest, fetched_at: now, misses: latest.misses + 1 } };
    }
    if (answer.kind === 'not-modified') throw new UpstreamError('the upstream answered 304 to an unconditional request');
    const base = { upstream: settings.upstream, name, fetched_at: now, last_used_at: latest?.last_used_at ?? now };
    if (answer.kind === 'not-found') {
      const row = { ...base, status: 404 as const, blob_sha256: null, size: null, etag: null, last_modified: null, revision: (latest?.revision ?? 0) + (latest?.status === 200 ? 1 : 0) };
      await store.savePackument(db, row);
      return { row: { ...row, hits: latest?.hits ?? 0, misses: (latest?.misses ?? 0) + 1 } };
    }
    // Checked before anything is kept; what is kept is the checked document, so later reads trust it.
    const checked = readUpstreamPackument(JSON.parse(answer.body.toString('utf8')), name);
    const bytes = Buffer.from(JSON.stringify(checked.doc));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const revision = latest?.status === 200 && latest.blob_sha256 === sha256 ? latest.revision : (latest?.revision ?? 0) + 1;
    const row = { ...base, status: 200 as const, blob_sha256: sha256, size: bytes.length, etag: answer.etag, last_modified: answer.lastModified, revision };
    this.#parsed.set(sha256, Object.assign(checked, { bytes: bytes.length }));
    const fetched = { ...row, hits: latest?.hits ?? 0, misses: (latest?.misses ?? 0) + 1 };
    // The client need not wait for the fsync: the document is served from memory while its blob and row are written.
    const key = `${settings.upstream}\0${name}`;
    const written = (async () => {
      try {
        await blobs.put(bytes, { expectedSha256: sha256 });
        await store.savePackument(db, row);
      } catch {
        // Nothing is kept: the next request fetches again.
      } finally {
        this.#writing.delete(key);
      }
    })();
    this.#writing.set(key, { row: fetched, written });
    return { row: fetched, written };
  }

  async #readBlob(sha256: string): Promise<Buffer> {
    const { blobs } = this.#d;
    const held = blobs.cached?.(sha256);
    if (held) return held;
    const stream = await blobs.get(sha256);
    if (!stream) throw errors.blobMissing(`proxied packument ${sha256}`);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Counts a hit (`UseCounter`), written to the row at most every `USE_FLUSH_MS` per name. */
  #noteUse(row: ProxiedPackumentRow): void {
    const nowMs = this.#d.clock.now().getTime();
    const hits = this.#uses.note(`${row.upstream}\0${row.name}`, row.last_used_at, nowMs);
    if (hits !== undefined) this.#d.store.notePackumentUse(this.#d.db, row.upstream, row.name, hits, new Date(nowMs).toISOString()).catch(() => undefined);
  }
}
