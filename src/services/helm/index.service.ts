/**
 * A channel's `index.yaml`, built once per change and then served as stored bytes.
 *
 * Every write to a channel bumps `helm_channels.revision` in its own transaction. A read asks for the revision (one
 * indexed query) and serves, in order of preference: this process's copy of the bytes if it was built for that
 * revision, the copy stored in the database by whichever instance built it, or a fresh build that it then stores.
 * The ETag is the SHA-256 of the bytes, and `generated` is the time of the channel's last change, so a revision
 * renders to the same bytes on every instance and the ETag is strong.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Identity } from '../../domain/access/identity.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import type { ChartMetadata } from '../../domain/helm/chart-yaml.js';
import { assembleIndexYaml, helmContextPath, renderIndexFragment, renderIndexYaml, type IndexFragment } from '../../domain/helm/index-yaml.js';
import type { ChangeSignal } from '../../storage/db/change-signal.js';
import { FreshMemo } from '../../storage/db/fresh-memo.js';
import type { ChannelState, HelmRepository } from '../../storage/db/repositories/helm.repository.js';
import type { Database } from '../../storage/db/schema.js';
import type { AccessService } from '../access.service.js';
import type { SettingsService } from '../settings.service.js';
import { authorizeHelm, requireValidChannel } from './access.js';

/** About 400 bytes each: 100,000 rendered entries stay well under 64 MiB. */
const MAX_FRAGMENTS = 100_000;

export interface HelmIndexDeps {
  db: Kysely<Database>;
  helm: HelmRepository;
  access: AccessService;
  settings: SettingsService;
  clock: Clock;
  externalUrl: string;
  /** Lets the channel's revision be known without a query while nothing was written (SQLite). */
  changes: ChangeSignal;
  /** Bytes of documents kept in this process (default 64 MiB). */
  cacheBytes?: number;
}

export interface IndexDocument {
  body: Buffer;
  /** Quoted strong ETag. */
  etag: string;
  /** True when the caller's `If-None-Match` already names this document: answer 304 without a body. */
  notModified: boolean;
}

interface Cached {
  revision: number;
  builtFor: string;
  body: Buffer;
  etag: string;
}

const etagOf = (body: Buffer): string => `"${createHash('sha256').update(body).digest('hex').slice(0, 40)}"`;

/** RFC 9110 §13.1.2: `*` or a list of entity tags, compared weakly (a `W/` prefix does not matter). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .includes(etag);
}

export class HelmIndexService {
  readonly #d: HelmIndexDeps;
  readonly #cache = new Map<string, Cached>();
  /** Rendered index entries by chart file id (immutable, so never stale). */
  readonly #fragments = new Map<number, IndexFragment>();
  /** Builds in progress, so that readers arriving together after a change share one build instead of each doing it. */
  readonly #building = new Map<string, Promise<Cached>>();
  readonly #cacheLimit: number;
  #cachedBytes = 0;
  readonly #states: FreshMemo<ChannelState | undefined>;

  constructor(deps: HelmIndexDeps) {
    this.#d = deps;
    this.#states = new FreshMemo(deps.changes);
    this.#cacheLimit = deps.cacheBytes ?? 64 * 1024 * 1024;
  }

  async read(identity: Identity, idOrPath: string, channel: string, ifNoneMatch?: string): Promise<IndexDocument> {
    requireValidChannel(channel);
    const project = await authorizeHelm(this.#d.access, identity, idOrPath, 'read_package');
    const doc = await this.#document(project.id, channel);
    return { ...doc, notModified: matchesIfNoneMatch(ifNoneMatch, doc.etag) };
  }

  async #document(projectId: number, channel: string): Promise<{ body: Buffer; etag: string }> {
    const { db, helm, settings, externalUrl } = this.#d;
    const limit = (await settings.get()).helm_max_packages_count;
    const contextPath = helmContextPath(externalUrl, projectId);
    // What, besides the revision, the bytes depend on: a cached document built for another URL or limit is stale.
    const builtFor = `${contextPath}\n${limit ?? 'unlimited'}`;
    const key = `${projectId}\u0000${channel}`;
    const state = await this.#states.get(key, async () => {
      const found = await helm.channelState(db, projectId, channel);
      return found && Object.freeze(found);
    });
    if (!state) {
      // GitLab: an unknown channel is an empty repository, not an error.
      const body = Buffer.from(renderIndexYaml({ charts: [], generated: iso(this.#d.clock.now()), contextPath }));
      return { body, etag: etagOf(body) };
    }
    const hit = this.#cache.get(key);
    if (hit && hit.revision === state.revision && hit.builtFor === builtFor) {
      // Most recently used last, so eviction drops the coldest channel first.
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return hit;
    }
    const flight = `${key}\u0000${state.revision}\u0000${builtFor}`;
    let pending = this.#building.get(flight);
    if (!pending) {
      pending = this.#load(projectId, channel, state, builtFor, limit, contextPath).then((entry) => this.#remember(key, entry));
      this.#building.set(flight, pending);
      const forget = () => this.#building.delete(flight);
      pending.then(forget, forget);
    }
    return pending;
  }

  /** The stored document if some instance already built this revision, else a fresh build, stored for the others. */
  async #load(projectId: number, channel: string, state: ChannelState, builtFor: string, limit: number | null, contextPath: string): Promise<Cached> {
    const { db, helm } = this.#d;
    if (state.built_revision === state.revision && state.built_for === builtFor && state.etag) {
      const stored = await helm.channelDocument(db, projectId, channel, state.revision, builtFor);
      if (stored !== undefined) return { revision: state.revision, builtFor, body: Buffer.from(stored), etag: state.etag };
    }
    // Each entry depends only on its file, which never changes: render it once, then reuse it for every later
    // build of any channel holding the file. A change to one chart costs one rendering, not one per version.
    const ids = await helm.indexFileIds(db, projectId, channel, limit);
    const mine = new Map<number, IndexFragment>();
    for (const id of ids) {
      const known = this.#fragments.get(id);
      if (known) mine.set(id, known);
    }
    const missing = ids.filter((id) => !mine.has(id));
    for (let i = 0; i < missing.length; i += 500) {
      for (const r of await helm.indexEntries(db, missing.slice(i, i + 500))) {
        const fragment = renderIndexFragment({ metadata: JSON.parse(r.metadata) as ChartMetadata, created: r.created_at, sha256: r.sha256, fileId: r.file_id });
        mine.set(r.file_id, fragment);
        if (this.#fragments.size >= MAX_FRAGMENTS) this.#fragments.clear();
        this.#fragments.set(r.file_id, fragment);
      }
    }
    // A file deleted between the two queries has no entry any more: it is left out, as the next revision will.
    const fragments = ids.map((id) => mine.get(id)).filter((f): f is IndexFragment => f !== undefined);
    const text = assembleIndexYaml(fragments, state.modified_at, contextPath);
    const body = Buffer.from(text);
    // The bytes are determined by which (immutable) files are listed, in which order, and the two header values:
    // hashing those gives the same strong ETag as hashing the document, at a fraction of the cost for 10,000 charts.
    const etag = etagOf(Buffer.from(`${fragments.map((f) => f.fileId).join(',')}\n${state.modified_at}\n${contextPath}`));
    // Stored for other instances; this reader need not wait. If the channel changed meanwhile this stores nothing.
    helm.storeChannelDocument(db, projectId, channel, state.revision, builtFor, text, etag).catch(() => undefined);
    return { revision: state.revision, builtFor, body, etag };
  }

  #remember(key: string, entry: Cached): Cached {
    const old = this.#cache.get(key);
    // A slow build of an older revision must not push out a newer one.
    if (old && old.revision > entry.revision) return entry;
    if (old) {
      this.#cache.delete(key);
      this.#cachedBytes -= old.body.length;
    }
    if (entry.body.length <= this.#cacheLimit / 4) {
      this.#cache.set(key, entry);
      this.#cachedBytes += entry.body.length;
      for (const [k, v] of this.#cache) {
        if (this.#cachedBytes <= this.#cacheLimit) break;
        this.#cache.delete(k);
        this.#cachedBytes -= v.body.length;
      }
    }
    return entry;
  }
}
