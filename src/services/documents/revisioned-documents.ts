/**
 * The document engine: key → revision → bytes and validators, built at most once per process and version.
 *
 * A document is a function of its key's revision (`revisions.ts` says who moves it) and of what else it was built
 * for (`builtFor`: the external URL, a listing limit). This holds built documents per process, bounded by bytes,
 * least recently used out first, and serves one only for exactly the version asked for; a document of any other
 * version is never served, only handed to the builder as a base to update (Helm applies its own change notes to it).
 * Readers that arrive together for a version not yet built share one build (single flight), so a burst of installs
 * right after a publish costs one rebuild, not one per request.
 *
 * What the engine does not decide: where the current version comes from (the caller reads it, usually through
 * `DocumentRevisions`), whether a stored copy in the database is used (the builder's business), and the shape of the
 * document (packuments hold several representations, an index is a list of blocks).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** What a document's bytes are a function of. */
export interface DocumentVersion {
  readonly revision: number;
  /** Everything besides the revision the bytes depend on; a document built for another value is stale. */
  readonly builtFor: string;
}

export interface BuiltDocument extends DocumentVersion {
  /** Bytes held, for the cache's bound; read when the document is stored (see `grown`). */
  readonly bytes: number;
}

export interface RevisionedDocumentsOptions {
  /** Bytes of documents kept per process. */
  maxBytes: number;
  /** Larger documents are served but not kept (default: `maxBytes`). */
  maxDocumentBytes?: number;
  /** Called when a document is pushed out by the bound (not when replaced or deleted). */
  onEvict?: (key: string) => void;
}

/** A strong validator's opaque part for bytes determined by `seed` (what they are made of, not the bytes). */
export const validatorTag = (seed: string): string => createHash('sha256').update(seed).digest('base64url').slice(0, 27);

export class RevisionedDocuments<D extends BuiltDocument> {
  readonly #cache: LRUCache<string, D>;
  /** Builds in progress by key and version. */
  readonly #building = new Map<string, Promise<D>>();

  constructor(options: RevisionedDocumentsOptions) {
    const { onEvict } = options;
    this.#cache = new LRUCache<string, D>({
      maxSize: options.maxBytes,
      maxEntrySize: options.maxDocumentBytes ?? options.maxBytes,
      // lru-cache wants a positive size; an empty document still costs its entry.
      sizeCalculation: (doc) => Math.max(1, doc.bytes),
      ...(onEvict ? { dispose: (_doc: D, key: string, reason: LRUCache.DisposeReason) => reason === 'evict' && onEvict(key) } : {}),
    });
  }

  /**
   * The document of `key` at exactly `at`: the held one, else built once however many callers ask meanwhile.
   * `build` gets the held document of another version, if any, as a base it may update.
   */
  get(key: string, at: DocumentVersion, build: (previous: D | undefined) => Promise<D> | D): Promise<D> | D {
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit.revision === at.revision && hit.builtFor === at.builtFor) return hit;
    const flight = `${key}\0${at.revision}\0${at.builtFor}`;
    let pending = this.#building.get(flight);
    if (pending === undefined) {
      pending = (async () => this.#remember(key, await build(hit)))();
      this.#building.set(flight, pending);
      const forget = (): void => void this.#building.delete(flight);
      pending.then(forget, forget);
    }
    return pending;
  }

  /** Whether a document of `key` (of any version) is held, without counting as a use. */
  has(key: string): boolean {
    return this.#cache.has(key);
  }

  /** Counts bytes a held document gained after it was stored (a representation compressed on first demand). */
  grown(key: string, doc: D): void {
    if (this.#cache.peek(key) !== doc) return;
    // lru-cache sizes an entry as it is set; setting the same value again would keep the old size.
    this.#cache.delete(key);
    this.#cache.set(key, doc);
  }

  clear(): void {
    this.#cache.clear();
  }

  /** Bytes held (tests, diagnostics). */
  get bytes(): number {
    return this.#cache.calculatedSize;
  }

  #remember(key: string, doc: D): D {
    const held = this.#cache.peek(key);
    // A slow build of an older revision must not push out a newer one.
    if (held !== undefined && held.revision > doc.revision) return doc;
    this.#cache.set(key, doc);
    return doc;
  }
}
