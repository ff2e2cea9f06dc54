/**
 * `npm search` results (docs/design/client-protocols.md#npm-search): one entry per package name, in the shape libnpmsearch stream-parses
 * (`objects.*`). Pure: the search service hands in the readable candidates.
 *
 * Hard client requirements honoured here: `maintainers` is always an array (npm maps over it) and `date` is an
 * ISO date (npm calls `toISOString()` on it).
 */
import { compareVersionsDesc } from './versions.js';

type Json = Record<string, unknown>;

export interface SearchQuery {
  /** Plain words: each must appear in the name, the description or a keyword. */
  readonly words: readonly string[];
  /** `keywords:a,b` qualifiers: each must be a keyword. */
  readonly keywords: readonly string[];
  /** Terms the database may pre-filter on (names and manifests containing them). */
  readonly sqlTerms: readonly string[];
}

/** npm joins its arguments with spaces; `keywords:x` (npm's own qualifier) asks for a keyword. */
export function parseSearchText(text: string): SearchQuery {
  const words: string[] = [];
  const keywords: string[] = [];
  for (const raw of text.toLowerCase().split(/\s+/)) {
    if (raw === '') continue;
    const m = /^keywords:(.*)$/.exec(raw);
    if (m) keywords.push(...m[1]!.split(',').filter(Boolean));
    else words.push(raw);
  }
  return { words, keywords, sqlTerms: [...words, ...keywords] };
}

export interface SearchCandidate {
  readonly packageId: number;
  readonly projectId: number;
  readonly name: string;
  readonly version: string;
  readonly createdAt: string;
  readonly manifest: Json;
  readonly publisher: string | null;
}

const keywordsOf = (manifest: Json): string[] =>
  Array.isArray(manifest.keywords) ? manifest.keywords.filter((k): k is string => typeof k === 'string') : [];

export function matchesSearch(c: SearchCandidate, q: SearchQuery): boolean {
  const name = c.name.toLowerCase();
  const description = typeof c.manifest.description === 'string' ? c.manifest.description.toLowerCase() : '';
  const keywords = keywordsOf(c.manifest).map((k) => k.toLowerCase());
  if (!q.words.every((w) => name.includes(w) || description.includes(w) || keywords.some((k) => k.includes(w)))) return false;
  return q.keywords.every((k) => keywords.includes(k));
}

export interface SearchPage {
  readonly objects: Json[];
  readonly total: number;
  readonly time: string;
}

export interface LatestTag {
  readonly project_id: number;
  readonly package_name: string;
  readonly version: string;
  readonly updated_at: string;
}

/** npm's own registry caps `size` at 250. */
export const MAX_SEARCH_SIZE = 250;

/**
 * Groups candidates by name. The version shown is the `latest` dist-tag (the most recently moved one when several
 * projects have the name), else the highest version; `maintainers` are everyone who published a version.
 * Exact name matches come first, then names in alphabetical order.
 */
export function buildSearchResults(
  candidates: readonly SearchCandidate[],
  latestTags: readonly LatestTag[],
  page: { size: number; from: number },
  now: string,
  exact?: string,
): SearchPage {
  const byName = new Map<string, SearchCandidate[]>();
  for (const c of candidates) {
    const list = byName.get(c.name) ?? [];
    list.push(c);
    byName.set(c.name, list);
  }
  const entries = [...byName.entries()].map(([name, versions]) => {
    const tag = latestTags
      .filter((t) => t.package_name === name && versions.some((v) => v.projectId === t.project_id && v.version === t.version))
      .sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0))[0];
    const shown =
      (tag && versions.filter((v) => v.version === tag.version && v.projectId === tag.project_id).pop()) ??
      [...versions].sort((a, b) => compareVersionsDesc(a.version, b.version) || b.packageId - a.packageId)[0]!;
    const publishers = [...new Set(versions.map((v) => v.publisher).filter((p): p is string => !!p))];
    const pkg: Json = {
      name,
      version: shown.version,
      description: typeof shown.manifest.description === 'string' ? shown.manifest.description : '',
      keywords: keywordsOf(shown.manifest),
      date: shown.createdAt,
      links: {},
      maintainers: publishers.map((username) => ({ username })),
    };
    if (shown.publisher) pkg.publisher = { username: shown.publisher };
    return { name, object: { package: pkg, score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } }, searchScore: 1 } };
  });
  const target = exact?.toLowerCase();
  entries.sort((a, b) => {
    const ea = a.name.toLowerCase() === target ? 0 : 1;
    const eb = b.name.toLowerCase() === target ? 0 : 1;
    return ea - eb || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  const size = Math.min(Math.max(page.size, 0), MAX_SEARCH_SIZE);
  const from = Math.max(page.from, 0);
  return { objects: entries.slice(from, from + size).map((e) => e.object), total: entries.length, time: now };
}
