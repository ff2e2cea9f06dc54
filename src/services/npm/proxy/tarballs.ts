/**
 * Proxied tarballs (docs/design/npm-proxy.md#tarballs): fetched on first request, streamed to the client and into
 * the blob store at once, verified against the version's `dist.integrity` (its `shasum` when it has none) before
 * the cache row is written; from then on served from the blob store like a local tarball.
 *
 * The first request in a process fetches (and streams to its client); requests for the same file meanwhile wait
 * for that fetch and are then served from the blob store; other instances wait on the database lease the same way.
 * A mismatch cuts the first client's response short (npm reports an integrity or network error), fails the
 * waiters with a 502, and leaves nothing behind: the blob upload is discarded and no row is written.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../../../domain/clock.js';
import { errors } from '../../../domain/errors.js';
import { expectedDigest } from '../../../domain/npm/proxy.js';
import type { ProxiedTarballRow } from '../../../domain/records.js';
import type { BlobStore } from '../../blob-store.js';
import { FreshMemo } from '../../fresh-memo.js';
import type { ChangeSignal, Executor } from '../../ports.js';
import { tarballLeaseKey, type Leases } from './lease.js';
import { NOT_FOUND_TTL_SECONDS, type ProxyPackuments, type ProxySettings } from './packuments.js';
import type { NpmProxyCachePort } from './ports.js';
import { SingleFlight } from './single-flight.js';
import { UseCounter } from './use-counter.js';
import { UpstreamError, type UpstreamClient } from './upstream-client.js';
import { IntegrityError, TarballTooLargeError, tee, VerifyingStream } from './verify.js';

/** `last_used_at` is written at most this often per file (for LRU eviction, minutes are precise enough). */
const USE_FLUSH_MS = 10 * 60_000;

/** A proxied tarball to send: from the cache (known digest and size), or live from the upstream. */
export type ProxiedTarball =
  | { readonly kind: 'cached'; readonly row: ProxiedTarballRow; readonly body: Readable | Buffer }
  | { readonly kind: 'live'; readonly body: Readable; readonly size: number | undefined };

export interface ProxyTarballsDeps {
  db: Executor;
  store: NpmProxyCachePort;
  blobs: BlobStore;
  client: UpstreamClient;
  clock: Clock;
  leases: Leases;
  changes: ChangeSignal;
  packuments: ProxyPackuments;
}

export class ProxyTarballs {
  readonly #d: ProxyTarballsDeps;
  /** Fetches in progress by upstream, name and file; settles when the row is written (or the fetch failed). */
  readonly #flights = new SingleFlight<ProxiedTarballRow>();
  readonly #rows: FreshMemo<ProxiedTarballRow | undefined>;
  readonly #uses = new UseCounter(USE_FLUSH_MS);

  constructor(deps: ProxyTarballsDeps) {
    this.#d = deps;
    this.#rows = new FreshMemo(deps.changes);
  }

  async get(settings: ProxySettings, name: string, fileName: string, signal?: AbortSignal): Promise<ProxiedTarball> {
    const key = `${settings.upstream}\0${name}\0${fileName}`;
    const row = await this.#row(settings.upstream, name, fileName);
    if (row) {
      const served = await this.#fromStore(row, signal);
      if (served) return served;
      // The row outlived its blob (a restored database, a purged store): fetch it again.
      await this.#d.store.forgetTarball(this.#d.db, settings.upstream, name, fileName);
    }
    if (settings.offline) throw errors.npmProxyOffline(name);
    const running = this.#flights.current(key);
    if (running) return this.#afterFetch(await running.catch((err) => Promise.reject(asClientError(err, name))), signal);
    let handedOver = false;
    let deliver!: (t: ProxiedTarball) => void;
    const delivered = new Promise<ProxiedTarball>((resolve) => {
      deliver = (t) => {
        handedOver = true;
        resolve(t);
      };
    });
    const flight = this.#flights.run(key, () => this.#fetch(settings, name, fileName, deliver));
    // The fetch hands over its live stream as soon as the upstream answered (its outcome is then the stream's); a
    // failure before that is thrown here, and a fetch another instance did (nothing handed over) is served from
    // the store.
    const never = new Promise<never>(() => undefined);
    return Promise.race([
      delivered,
      flight.then(
        (done) => (handedOver ? never : this.#afterFetch(done, signal)),
        (err: unknown) => (handedOver ? never : Promise.reject(asClientError(err, name))),
      ),
    ]);
  }

  clearCache(): void {
    this.#rows.clear();
  }

  /** Serves a request that waited for a fetch: a miss, not counted as a hit. */
  async #afterFetch(row: ProxiedTarballRow, signal?: AbortSignal): Promise<ProxiedTarball> {
    const served = await this.#fromStore(row, signal, false);
    if (!served) throw errors.blobMissing(row.file_name);
    return served;
  }

  async #fromStore(row: ProxiedTarballRow, signal?: AbortSignal, hit = true): Promise<ProxiedTarball | undefined> {
    const { blobs } = this.#d;
    const held = blobs.cached?.(row.blob_sha256);
    const body = held ?? (await blobs.get(row.blob_sha256, signal));
    if (!body) return undefined;
    if (hit) this.#noteUse(row);
    return { kind: 'cached', row, body };
  }

  #row(upstream: string, name: string, fileName: string): Promise<ProxiedTarballRow | undefined> {
    return this.#rows.get(`${upstream}\0${name}\0${fileName}`, async () => {
      const row = await this.#d.store.tarball(this.#d.db, upstream, name, fileName);
      return row && Object.freeze(row);
    });
  }

  /**
   * Fetches the file (or waits for another instance to), handing a live stream to `deliver` when this process
   * downloads it; resolves with the row once the tarball is verified and recorded.
   */
  async #fetch(settings: ProxySettings, name: string, fileName: string, deliver: (t: ProxiedTarball) => void): Promise<ProxiedTarballRow> {
    const { db, store, leases, packuments, clock } = this.#d;
    const leaseKey = tarballLeaseKey(settings.upstream, name, fileName);
    const probe = () => store.tarball(db, settings.upstream, name, fileName);
    let lease = await leases.acquire(leaseKey);
    if (!lease) {
      const fetched = await leases.waitFor(leaseKey, probe);
      if (fetched) return fetched;
      lease = await leases.acquire(leaseKey);
      if (!lease) throw errors.npmUpstreamFailed(name, 'another instance is fetching the tarball and has not finished');
    }
    try {
      const done = await probe();
      if (done) return done;
      // The file must be one the upstream's packument lists (a new version may need a revalidation first).
      let doc = await packuments.current(settings, name);
      let target = doc.status === 200 ? (await packuments.upstreamDocument(doc)).files.get(fileName) : undefined;
      // Not more often than a 404 is remembered: a stream of requests for files that do not exist must not become a
      // stream of upstream requests.
      if (!target && clock.now().getTime() - Date.parse(doc.fetched_at) >= NOT_FOUND_TTL_SECONDS * 1000) {
        doc = await packuments.current(settings, name, { force: true });
        target = doc.status === 200 ? (await packuments.upstreamDocument(doc)).files.get(fileName) : undefined;
      }
      if (!target) throw errors.npmRecordNotFound('Package file');
      // Only from the upstream itself: a document that points elsewhere does not choose where Wharf downloads from.
      if (new URL(target.url).origin !== new URL(settings.upstream).origin) {
        throw errors.npmUpstreamFailed(name, `the tarball of ${target.version} is not on the upstream's origin`);
      }
      const expected = expectedDigest(target)!;
      const answer = await this.#d.client.tarball(settings.upstream, target.url, { token: settings.token, maxBytes: settings.maxTarballBytes });
      if (answer.kind === 'not-found') throw errors.npmRecordNotFound('Package file');
      lease.keepAlive();
      const verifying = new VerifyingStream(expected, settings.maxTarballBytes);
      answer.body.on('error', (err) => verifying.destroy(err));
      answer.body.pipe(verifying);
      // The client sees a refusal it can report (a 502 naming the integrity failure, while nothing was sent yet).
      const { store: toStore, client } = tee(verifying, (err) => asClientError(err, name));
      deliver({ kind: 'live', body: client, size: answer.size });
      const put = await this.#d.blobs.put(toStore, { maxBytes: settings.maxTarballBytes });
      const now = this.#d.clock.now().toISOString();
      const row = {
        upstream: settings.upstream,
        name,
        file_name: fileName,
        version: target.version,
        blob_sha256: put.sha256,
        size: put.size,
        integrity: expected.sri,
        fetched_at: now,
        last_used_at: now,
      };
      await store.saveTarball(db, row);
      return { ...row, hits: 0, misses: 1 };
    } finally {
      await lease.release();
    }
  }

  /** Counts a hit (`UseCounter`), written to the row at most every `USE_FLUSH_MS` per file. */
  #noteUse(row: ProxiedTarballRow): void {
    const nowMs = this.#d.clock.now().getTime();
    const hits = this.#uses.note(`${row.upstream}\0${row.name}\0${row.file_name}`, row.last_used_at, nowMs);
    if (hits !== undefined) this.#d.store.noteTarballUse(this.#d.db, row.upstream, row.name, row.file_name, hits, new Date(nowMs).toISOString()).catch(() => undefined);
  }

}

/** What a waiting client is told when the fetch it waited for failed. */
function asClientError(err: unknown, name: string): unknown {
  if (err instanceof IntegrityError) return errors.npmUpstreamIntegrity(name, err.expected, err.actual);
  if (err instanceof TarballTooLargeError || err instanceof UpstreamError) return errors.npmUpstreamFailed(name, err.message);
  return err;
}
