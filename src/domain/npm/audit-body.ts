/**
 * The two npm audit bodies, read and pruned before they leave the instance (docs/npm.md#npm-audit-with-forwarding-on):
 *
 *   advisories/bulk  `{"<name>": ["<version>", …], …}`                       (npm 7+, pnpm 11, yarn 4)
 *   audits/quick     npm 6's tree: `{name, version, requires: {<name>: <range>}, dependencies: {<name>:
 *                    {version, requires, dependencies: {…}}}, install: [], remove: [], metadata}`  (npm 10's
 *                    fallback, pnpm ≤10, yarn 2/3)
 *
 * `auditNames` lists every package name a body mentions; `pruneAuditBody` returns a copy without the names the
 * caller says are private (an entry of the tree goes with everything under it). Pure: which names are private is
 * decided by the service from the database.
 */
import type { NpmAuditPath } from './npm-path.js';

export type AuditBody = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The scope of a name, lower-cased, without `@` (`@Acme/x` → `acme`), or null when unscoped. */
export function auditScopeOf(name: string): string | null {
  const m = /^@([^/]+)\//.exec(name);
  return m ? m[1]!.toLowerCase() : null;
}

/** The name of an `install`/`remove` spec (`@a/b@1.0.0` → `@a/b`, `c@2` → `c`). */
const specName = (spec: string): string => {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  return at > 0 ? spec.slice(0, at) : spec;
};

/** Whether the body has the shape of its endpoint (a JSON object); anything else is not forwarded. */
export const isAuditBody = (body: unknown): body is AuditBody => isObject(body);

/** Every package name the body mentions (root name included for the tree). */
export function auditNames(path: NpmAuditPath, body: AuditBody): Set<string> {
  const names = new Set<string>();
  if (path === 'advisories/bulk') {
    for (const name of Object.keys(body)) names.add(name);
    return names;
  }
  if (typeof body.name === 'string') names.add(body.name);
  for (const key of ['install', 'remove'] as const) {
    const list = body[key];
    if (Array.isArray(list)) for (const spec of list) if (typeof spec === 'string') names.add(specName(spec));
  }
  const walk = (node: Record<string, unknown>) => {
    if (isObject(node.requires)) for (const name of Object.keys(node.requires)) names.add(name);
    if (isObject(node.dependencies)) {
      for (const [name, child] of Object.entries(node.dependencies)) {
        names.add(name);
        if (isObject(child)) walk(child);
      }
    }
  };
  walk(body);
  return names;
}

/** A copy of the body without the names `isPrivate` says so; `remaining` counts the dependencies left to audit. */
export function pruneAuditBody(path: NpmAuditPath, body: AuditBody, isPrivate: (name: string) => boolean): { body: AuditBody; remaining: number } {
  if (path === 'advisories/bulk') {
    const out: AuditBody = {};
    for (const [name, versions] of Object.entries(body)) if (!isPrivate(name)) out[name] = versions;
    return { body: out, remaining: Object.keys(out).length };
  }
  const prune = (node: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...node };
    if (isObject(node.requires)) out.requires = Object.fromEntries(Object.entries(node.requires).filter(([name]) => !isPrivate(name)));
    if (isObject(node.dependencies)) {
      const deps: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(node.dependencies)) {
        if (isPrivate(name)) continue;
        deps[name] = isObject(child) ? prune(child) : child;
      }
      out.dependencies = deps;
    }
    return out;
  };
  const out = prune(body);
  // The root is the consumer's own project: its name goes when it is private, as any other.
  if (typeof body.name === 'string' && isPrivate(body.name)) delete out.name;
  for (const key of ['install', 'remove'] as const) {
    const list = body[key];
    if (Array.isArray(list)) out[key] = list.filter((spec) => typeof spec !== 'string' || !isPrivate(specName(spec)));
  }
  const left = auditNames(path, out);
  if (typeof out.name === 'string') left.delete(out.name);
  return { body: out, remaining: left.size };
}

/** What an audit answers when there is nothing to ask the upstream (offline, or only private names). */
export function emptyAuditAnswer(path: NpmAuditPath): Record<string, unknown> {
  if (path === 'advisories/bulk') return {};
  // npm 10 converts a quick report and calls one without `advisories` invalid; pnpm 10 reads `metadata`.
  return {
    actions: [],
    advisories: {},
    muted: [],
    metadata: {
      vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0 },
      dependencies: 0,
      devDependencies: 0,
      optionalDependencies: 0,
      totalDependencies: 0,
    },
  };
}
