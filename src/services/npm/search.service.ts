/**
 * `npm search` (`GET …/-/v1/search?text=&size=&from=`, docs/design/client-protocols.md#npm-search), which GitLab does not implement
 * (docs/design/gitlab-compatibility.md#what-gitlab-leaves-out): packages of one project, a namespace tree or the whole instance, filtered to what the
 * caller may read *before* counting and paging, so a private project's packages never show, not even in `total`.
 */
import type { Identity } from '../../domain/access/identity.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { buildSearchResults, matchesSearch, parseSearchText, type LatestTag, type SearchCandidate, type SearchPage } from '../../domain/npm/search.js';
import type { NpmSearchRow, NpmSearchScope } from '../../domain/records.js';
import type { Executor } from '../ports.js';
import type { AccessService } from '../access.service.js';

/** What `npm search` reads of the packages (`PackagesRepository`). */
export interface NpmSearchPackagesPort {
  /**
   * Installable npm versions in `scope` whose name or stored manifest contains every term (case-insensitive),
   * oldest first, at most `limit`: coarse candidates, narrowed by the service.
   */
  searchNpm(db: Executor, scope: NpmSearchScope, terms: readonly string[], limit: number): Promise<NpmSearchRow[]>;
  /** The `latest` tags of the names in these projects. */
  latestTags(db: Executor, projectIds: readonly number[]): Promise<LatestTag[]>;
}

export interface NpmSearchServiceDeps {
  db: Executor;
  packages: NpmSearchPackagesPort;
  access: Pick<AccessService, 'packageReadable'>;
  clock: Clock;
}

/** Versions looked at per search; a search that broad is not what `npm search` is for. */
const MAX_CANDIDATES = 10_000;

export class NpmSearchService {
  readonly #d: NpmSearchServiceDeps;
  constructor(deps: NpmSearchServiceDeps) {
    this.#d = deps;
  }

  async search(identity: Identity, scope: NpmSearchScope, text: string, page: { size: number; from: number }): Promise<SearchPage> {
    const { db, packages, access, clock } = this.#d;
    const query = parseSearchText(text);
    const rows = await packages.searchNpm(db, scope, query.sqlTerms, MAX_CANDIDATES);
    const projectFacts = new Map<number, (typeof rows)[number]>();
    for (const r of rows) projectFacts.set(r.project_id, r);
    const facts = [...projectFacts.values()];
    const readable = await access.packageReadable(
      identity,
      facts.map((r) => ({ projectId: r.project_id, visibility: r.visibility, registryAccessLevel: r.package_registry_access_level, traversalIds: r.traversal_ids })),
    );
    const candidates: SearchCandidate[] = rows
      .filter((r) => readable.has(r.project_id))
      .map((r) => ({
        packageId: r.package_id,
        projectId: r.project_id,
        name: r.name,
        version: r.version,
        createdAt: r.created_at,
        manifest: JSON.parse(r.package_json) as Record<string, unknown>,
        publisher: r.publisher,
      }))
      .filter((c) => matchesSearch(c, query));
    const latest = await packages.latestTags(db, [...new Set(candidates.map((c) => c.projectId))]);
    return buildSearchResults(candidates, latest, page, iso(clock.now()), text.trim());
  }
}
