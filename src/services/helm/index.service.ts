/**
 * A channel's `index.yaml`, built once per change and then served as stored bytes.
 *
 * The index is a revisioned document (`../documents/`): every write to a channel moves its revision in its own
 * transaction (`revisions.ts` holds the rule, including the triggers). A read asks for the revision (one indexed
 * query, or none while the database is unchanged) and serves, in order of preference: this process's copy of the
 * document if it was built for that revision (the engine, which also lets readers arriving together share one
 * build); the previous copy brought up to date with the change this process itself just made (an upload notes it with `noteChange`, so the next read costs one chart's re-render and a
 * copy, not a query of every version); on PostgreSQL, the copy stored in the database by whichever instance built it;
 * or a fresh build from per-file rendered fragments. The ETag is derived from what the bytes are made of, and
 * `generated` is the time of the channel's last change, so a revision renders to the same bytes on every instance
 * and the ETag is strong.
 */
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { ifNoneMatchMatches } from '../../domain/conditional.js';
import type { ChartMetadata } from '../../domain/helm/chart-yaml.js';
import { ChannelIndex } from '../../domain/helm/channel-index.js';
import { helmContextPath, renderIndexFragment, type IndexChart, type IndexFragment } from '../../domain/helm/index-yaml.js';
import { LRUCache } from 'lru-cache';
import type { Executor } from '../ports.js';
import type { SettingsService } from '../settings.service.js';
import { RevisionedDocuments } from '../documents/revisioned-documents.js';
import { helmIndexKey, type HelmIndexState } from '../documents/revisions.js';
import type { HelmRevisionsPort } from './ports.js';

/** About 400 bytes each: 100,000 rendered entries stay well under 64 MiB. */
const MAX_FRAGMENTS = 100_000;

/** What index builds need of the Helm store (`HelmRepository`). */
export interface HelmIndexStore {
  /** The stored document, only if it was built for exactly this revision and context. */
  channelDocument(db: Executor, projectId: number, channel: string, revision: number, builtFor: string): Promise<string | undefined>;
  /** Stores a built document unless the channel moved on meanwhile; whether it was stored. */
  storeChannelDocument(db: Executor, projectId: number, channel: string, revision: number, builtFor: string, document: string, etag: string): Promise<boolean>;
  /** The live chart files of a channel, newest package first, at most `limit`: just their ids. */
  indexFileIds(db: Executor, projectId: number, channel: string, limit: number | null): Promise<number[]>;
  /** What an index entry is rendered from, for these chart files. */
  indexEntries(db: Executor, fileIds: readonly number[]): Promise<{ file_id: number; sha256: string; created_at: string; metadata: string }[]>;
}

export interface HelmIndexDeps {
  db: Executor;
  helm: HelmIndexStore;
  settings: SettingsService;
  clock: Clock;
  externalUrl: string;
  /** Where channel revisions come from (the invalidation rule). */
  revisions: HelmRevisionsPort;
  /**
   * Keep built documents in the database for other instances (PostgreSQL). On the embedded SQLite there are none,
   * and writing 4 MB synchronously would stall every request for tens of milliseconds after each change.
   */
  shareDocuments: boolean;
  /** Bytes of documents kept in this process (default 64 MiB). */
  cacheBytes?: number;
}

export interface IndexDocument {
  /** The document's bytes, in order (see `ChannelIndex.render`). */
  parts: readonly Buffer[];
  length: number;
  /** Quoted strong ETag. */
  etag: string;
  /** True when the caller's `If-None-Match` already names this document: answer 304 without a body. */
  notModified: boolean;
}

interface Cached {
  revision: number;
  builtFor: string;
  parts: readonly Buffer[];
  length: number;
  /** What the engine's bound counts: the body. */
  bytes: number;
  etag: string;
  /** The chart blocks the body was made of, when this process built it (absent for a document read from the database). */
  index?: ChannelIndex;
}

/** What one transaction of this process did to a channel: revisions `from` → `to`, within one chart. */
export interface ChannelChange {
  from: number;
  to: number;
  chart: string;
  /** The chart file that joined the channel, if one did. */
  added?: IndexChart;
  /** Chart files that left it. */
  removed: readonly number[];
}

/** Changes kept per channel: enough for bursts of uploads between two reads; older gaps mean a full build. */
const MAX_CHANGES = 64;

export class HelmIndexService {
  readonly #d: HelmIndexDeps;
  /** Built documents by channel; a document larger than a quarter of the bound is served but not kept. */
  readonly #documents: RevisionedDocuments<Cached>;
  /** Rendered index entries by chart file id (immutable, so never stale). */
  readonly #fragments = new LRUCache<number, IndexFragment>({ max: MAX_FRAGMENTS });
  /** Recent changes this process made, per channel, oldest first. */
  readonly #changes = new Map<string, ChannelChange[]>();

  constructor(deps: HelmIndexDeps) {
    this.#d = deps;
    const maxBytes = deps.cacheBytes ?? 64 * 1024 * 1024;
    // Notes are only useful against a held document: they go with it.
    this.#documents = new RevisionedDocuments({ maxBytes, maxDocumentBytes: maxBytes / 4, onEvict: (key) => this.#changes.delete(key) });
  }

  /** The channel's index; the route decided that the caller may read the project's packages and that the channel is valid. */
  async read(projectId: number, channel: string, ifNoneMatch?: string): Promise<IndexDocument> {
    const doc = await this.#document(projectId, channel);
    return { parts: doc.parts, length: doc.length, etag: doc.etag, notModified: ifNoneMatchMatches(ifNoneMatch, doc.etag) };
  }

  /**
   * Called after a write of this process committed. The next read applies it to the document of revision `from`
   * instead of rebuilding; if anything else changed the channel in between, revisions do not line up and the read
   * builds from scratch, so a note can only save work, never change an answer.
   */
  noteChange(projectId: number, channel: string, change: ChannelChange): void {
    const key = `${projectId}\u0000${channel}`;
    // Without a document of this channel in memory there is nothing to update: the next read builds anyway. This
    // also bounds the notes kept to the channels the cache holds.
    if (!this.#documents.has(key)) return;
    const list = this.#changes.get(key) ?? [];
    list.push(change);
    if (list.length > MAX_CHANGES) list.shift();
    this.#changes.set(key, list);
  }

  async #document(projectId: number, channel: string): Promise<Cached> {
    const { settings, externalUrl } = this.#d;
    const limit = (await settings.get()).helm_max_packages_count;
    const contextPath = helmContextPath(externalUrl, projectId);
    // What, besides the revision, the bytes depend on: a cached document built for another URL or limit is stale.
    const builtFor = `${contextPath}\n${limit ?? 'unlimited'}`;
    const key = `${projectId}\u0000${channel}`;
    const state = await this.#d.revisions.helmIndexState(helmIndexKey(projectId, channel));
    if (!state) {
      // GitLab: an unknown channel is an empty repository, not an error.
      const empty = ChannelIndex.of([]).render(iso(this.#d.clock.now()), contextPath);
      return { revision: 0, builtFor, bytes: empty.length, ...empty };
    }
    return this.#documents.get(key, { revision: state.revision, builtFor }, async (previous) => {
      const updated =
        limit === null && previous?.index && previous.builtFor === builtFor ? this.#applyChanges(key, previous, state, contextPath) : undefined;
      const entry = updated ?? (await this.#load(projectId, channel, state, builtFor, limit, contextPath));
      this.#spend(key, entry.revision);
      return entry;
    });
  }

  /** The cached document brought to `state.revision` with this process's own notes, if they cover the whole gap. */
  #applyChanges(key: string, cached: Cached, state: HelmIndexState, contextPath: string): Cached | undefined {
    const notes = this.#changes.get(key);
    if (!notes || !cached.index) return undefined;
    let index = cached.index;
    let at = cached.revision;
    for (const note of notes) {
      if (note.to <= at) continue;
      if (note.from !== at) return undefined;
      index = index.withChange(note.chart, note.added && this.#fragment(note.added), new Set(note.removed));
      at = note.to;
      if (at === state.revision) break;
    }
    if (at !== state.revision) return undefined;
    const rendered = index.render(state.modified_at, contextPath);
    return { revision: at, builtFor: cached.builtFor, index, bytes: rendered.length, ...rendered };
  }

  #fragment(chart: IndexChart): IndexFragment {
    let fragment = this.#fragments.get(chart.fileId);
    if (!fragment) {
      fragment = renderIndexFragment(chart);
      this.#fragments.set(chart.fileId, fragment);
    }
    return fragment;
  }

  /** The stored document if some instance already built this revision, else a fresh build, stored for the others. */
  async #load(projectId: number, channel: string, state: HelmIndexState, builtFor: string, limit: number | null, contextPath: string): Promise<Cached> {
    const { db, helm, shareDocuments } = this.#d;
    if (shareDocuments && state.built_revision === state.revision && state.built_for === builtFor && state.etag) {
      const stored = await helm.channelDocument(db, projectId, channel, state.revision, builtFor);
      if (stored !== undefined) {
        const body = Buffer.from(stored);
        return { revision: state.revision, builtFor, parts: [body], length: body.length, bytes: body.length, etag: state.etag };
      }
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
        mine.set(r.file_id, this.#fragment({ metadata: JSON.parse(r.metadata) as ChartMetadata, created: r.created_at, sha256: r.sha256, fileId: r.file_id }));
      }
    }
    // A file deleted between the two queries has no entry any more: it is left out, as the next revision will.
    const index = ChannelIndex.of(ids.map((id) => mine.get(id)).filter((f): f is IndexFragment => f !== undefined));
    const rendered = index.render(state.modified_at, contextPath);
    if (shareDocuments) {
      // Stored for other instances; this reader need not wait. If the channel changed meanwhile this stores nothing.
      const text = Buffer.concat(rendered.parts, rendered.length).toString('utf8');
      helm.storeChannelDocument(db, projectId, channel, state.revision, builtFor, text, rendered.etag).catch(() => undefined);
    }
    return { revision: state.revision, builtFor, index, bytes: rendered.length, ...rendered };
  }

  /** Notes up to `revision` are spent. */
  #spend(key: string, revision: number): void {
    const notes = this.#changes.get(key);
    if (notes) {
      const rest = notes.filter((n) => n.to > revision);
      if (rest.length) this.#changes.set(key, rest);
      else this.#changes.delete(key);
    }
  }
}
