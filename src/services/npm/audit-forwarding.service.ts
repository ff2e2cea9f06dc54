/**
 * `npm audit` with forwarding on (docs/npm.md#npm-audit-with-forwarding-on): Wharf asks the upstream registry itself instead of
 * redirecting the client there, after removing every name that exists on this instance (in any project, whatever
 * its visibility) and every name in the scope of a local top-level namespace (`@acme/…` when `acme` is a group or
 * a user), so private package names never leave the instance. GitLab's 307 sent the whole body, private names
 * included, to the public registry.
 *
 * The upstream gets Wharf's own credentials (the upstream token, if any), never the client's; a redirect is
 * followed only to the same origin; the exchange is bounded in time and size. A failure is an error answer, not
 * an empty report: `npm audit` prints it and exits non-zero, where `{}` would claim there are no vulnerabilities
 * (an install or `npm ci` only warns, as it does when the public registry is down).
 */
import { gzipSync } from 'node:zlib';
import { auditNames, auditScopeOf, emptyAuditAnswer, isAuditBody, pruneAuditBody } from '../../domain/npm/audit-body.js';
import type { NpmAuditPath } from '../../domain/npm/npm-path.js';
import { errors, isAppError } from '../../domain/errors.js';
import type { Executor } from '../ports.js';

/** Which names exist as npm packages here (`PackagesRepository`). */
export interface AuditPackagesPort {
  npmNamesAmong(db: Executor, names: readonly string[]): Promise<string[]>;
}

/** Which scopes are top-level namespaces here (`NamespacesRepository`). */
export interface AuditNamespacesPort {
  topLevelPathsAmong(db: Executor, pathsLower: readonly string[]): Promise<string[]>;
}

/** Where and how to ask: the forwarding settings of the moment. */
export interface AuditUpstream {
  /** Base URL without a trailing slash (`npm_package_requests_forwarding_url`). */
  url: string;
  /** `npm_proxy_upstream_token`: sent as `Authorization: Bearer`. */
  token: string | null;
  /** `npm_proxy_offline`: nothing is sent. */
  offline: boolean;
}

export interface AuditForwardingDeps {
  db: Executor;
  packages: AuditPackagesPort;
  namespaces: AuditNamespacesPort;
  /** The HTTP client (tests may wrap it); the global `fetch` by default. */
  fetch?: typeof globalThis.fetch;
  /** The whole exchange with the upstream, redirects and answer included. */
  timeoutMs?: number;
  /** The largest answer read from the upstream. */
  maxAnswerBytes?: number;
}

export interface AuditForwardResult {
  /** JSON: the upstream's answer as it sent it (validated as JSON), or Wharf's own empty report. */
  body: Buffer | Record<string, unknown>;
  /** How many names were removed as private, and whether the upstream was asked at all. */
  removed: number;
  asked: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Names per `IN (…)` list: far below SQLite's and PostgreSQL's parameter limits. */
const BATCH = 500;
const MAX_REDIRECTS = 3;

export class NpmAuditForwardingService {
  readonly #d: AuditForwardingDeps;
  readonly #fetch: typeof globalThis.fetch;

  constructor(deps: AuditForwardingDeps) {
    this.#d = deps;
    this.#fetch = deps.fetch ?? globalThis.fetch;
  }

  /**
   * Forwards one audit body (already inflated and parsed) to the upstream's same path, without the private
   * names; `gzip` mirrors how the client sent it (npm gzips, pnpm 11 does not).
   */
  async forward(path: NpmAuditPath, body: unknown, upstream: AuditUpstream, options: { gzip: boolean }): Promise<AuditForwardResult> {
    if (!isAuditBody(body)) throw errors.params(['the audit body must be a JSON object']);
    if (upstream.offline) return { body: emptyAuditAnswer(path), removed: 0, asked: false };
    const names = auditNames(path, body);
    const isPrivate = await this.#privateNames(names);
    let removed = 0;
    for (const name of names) if (isPrivate(name)) removed++;
    const pruned = pruneAuditBody(path, body, isPrivate);
    // Nothing public left: the upstream need not even learn that an audit happened.
    if (pruned.remaining === 0) return { body: emptyAuditAnswer(path), removed, asked: false };
    const json = Buffer.from(JSON.stringify(pruned.body));
    const answer = await this.#post(`${upstream.url}/-/npm/v1/security/${path}`, options.gzip ? gzipSync(json) : json, options.gzip, upstream.token);
    return { body: answer, removed, asked: true };
  }

  /** The private-name test for this body: two batched look-ups, whatever the body's size. */
  async #privateNames(names: ReadonlySet<string>): Promise<(name: string) => boolean> {
    const all = [...names];
    const scopes = [...new Set(all.map(auditScopeOf).filter((s): s is string => s !== null))];
    const local = new Set<string>();
    const localScopes = new Set<string>();
    for (let i = 0; i < all.length; i += BATCH) for (const n of await this.#d.packages.npmNamesAmong(this.#d.db, all.slice(i, i + BATCH))) local.add(n);
    for (let i = 0; i < scopes.length; i += BATCH) for (const s of await this.#d.namespaces.topLevelPathsAmong(this.#d.db, scopes.slice(i, i + BATCH))) localScopes.add(s);
    return (name) => {
      if (local.has(name)) return true;
      const scope = auditScopeOf(name);
      return scope !== null && localScopes.has(scope);
    };
  }

  async #post(url: string, payload: Buffer, gzip: boolean, token: string | null): Promise<Buffer> {
    const origin = new URL(url).origin;
    const signal = AbortSignal.timeout(this.#d.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': 'wharf (npm audit forwarding)',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
    try {
      let target = url;
      for (let hop = 0; ; hop++) {
        const res = await this.#fetch(target, { method: 'POST', headers, body: payload, redirect: 'manual', signal });
        if (res.status === 307 || res.status === 308) {
          await res.body?.cancel();
          const next = new URL(res.headers.get('location') ?? '', target);
          // Another host would get the body (and the upstream token): never.
          if (next.origin !== origin) throw errors.npmAuditUpstreamFailed(`it redirected to another host (${next.origin})`);
          if (hop >= MAX_REDIRECTS) throw errors.npmAuditUpstreamFailed('it redirected too many times');
          target = next.href;
          continue;
        }
        if (res.status < 200 || res.status > 299) {
          await res.body?.cancel();
          throw errors.npmAuditUpstreamFailed(`it answered ${res.status}`);
        }
        const bytes = await this.#read(res);
        try {
          JSON.parse(bytes.toString('utf8'));
        } catch {
          throw errors.npmAuditUpstreamFailed('its answer is not JSON');
        }
        return bytes;
      }
    } catch (err) {
      if (signal.aborted) throw errors.npmAuditUpstreamTimeout(Math.round((this.#d.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000));
      if (isAppError(err)) throw err;
      throw errors.npmAuditUpstreamFailed('it could not be reached');
    }
  }

  /** The answer's bytes, refused past the size bound (a declared length is checked before reading). */
  async #read(res: Response): Promise<Buffer> {
    const max = this.#d.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    if (Number(res.headers.get('content-length') ?? 0) > max) {
      await res.body?.cancel();
      throw errors.npmAuditUpstreamFailed(`its answer is larger than ${max} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > max) throw errors.npmAuditUpstreamFailed(`its answer is larger than ${max} bytes`);
        chunks.push(Buffer.from(chunk));
      }
    }
    return Buffer.concat(chunks);
  }
}
