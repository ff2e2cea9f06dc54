/**
 * Helpers for the management API suites: creating users, tokens, groups and projects through the API as root,
 * sending parameters the three ways GitLab clients do (JSON, form fields, query string), counting rows to prove a
 * refused request left nothing behind, and checking GitLab's pagination headers.
 */
import assert from 'node:assert/strict';
import { ROOT_TOKEN, type CallResult, type TestApp } from './app.js';

export const API = '/api/v4';
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** `curl --data` encoding; arrays become `key[]=a&key[]=b`. */
export function form(params: Record<string, string | number | boolean | null | readonly string[]>): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const item of v) out.append(`${k}[]`, String(item));
    else out.append(k, v === null ? '' : String(v));
  }
  return out.toString();
}

/** Sends `params` as form fields (`application/x-www-form-urlencoded`). */
export const postForm = (t: TestApp, method: string, url: string, token: string | undefined, params: Parameters<typeof form>[0]) =>
  t.call(method, url, { token, body: form(params), headers: FORM });

/** Sends `params` in the query string of a write, with no body at all. */
export const postQuery = (t: TestApp, method: string, url: string, token: string | undefined, params: Parameters<typeof form>[0]) =>
  t.call(method, `${url}${url.includes('?') ? '&' : '?'}${form(params)}`, { token });

export interface Created {
  id: number;
  [k: string]: any;
}

function expectCreated(r: CallResult, what: string): Created {
  assert.equal(r.status, 201, `${what}: ${r.status} ${r.text}`);
  return r.body as Created;
}

export async function createUser(t: TestApp, username: string, extra: Record<string, unknown> = {}): Promise<Created> {
  const r = await t.call('POST', `${API}/users`, {
    token: ROOT_TOKEN,
    body: { username, name: `${username} name`, email: `${username}@example.com`, password: 'correct-horse-1', ...extra },
  });
  return expectCreated(r, `create user ${username}`);
}

/** An admin-made personal access token for the user; returns the secret. */
export async function createPat(t: TestApp, userId: number, scopes: string[] = ['api'], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await t.call('POST', `${API}/users/${userId}/personal_access_tokens`, {
    token: ROOT_TOKEN,
    body: { name: `pat-${scopes.join('-')}`, scopes, ...extra },
  });
  return expectCreated(r, 'create PAT').token as string;
}

/** A user and an `api` token for them. */
export async function userWithToken(t: TestApp, username: string, extra: Record<string, unknown> = {}): Promise<{ user: Created; token: string }> {
  const user = await createUser(t, username, extra);
  return { user, token: await createPat(t, user.id) };
}

export async function createGroup(
  t: TestApp,
  path: string,
  extra: { name?: string; parent_id?: number; visibility?: string; description?: string } = {},
  token = ROOT_TOKEN,
): Promise<Created> {
  const r = await t.call('POST', `${API}/groups`, { token, body: { name: extra.name ?? path, path, ...extra } });
  return expectCreated(r, `create group ${path}`);
}

export async function createProject(
  t: TestApp,
  path: string,
  namespaceId: number | undefined,
  extra: Record<string, unknown> = {},
  token = ROOT_TOKEN,
): Promise<Created> {
  const body: Record<string, unknown> = { path, ...extra };
  if (namespaceId !== undefined) body.namespace_id = namespaceId;
  const r = await t.call('POST', `${API}/projects`, { token, body });
  return expectCreated(r, `create project ${path}`);
}

export async function addMember(t: TestApp, kind: 'groups' | 'projects', id: number | string, userId: number, level: number): Promise<Created> {
  const r = await t.call('POST', `${API}/${kind}/${id}/members`, { token: ROOT_TOKEN, body: { user_id: userId, access_level: level } });
  return expectCreated(r, `add member ${userId} to ${kind}/${id}`);
}

const TABLES = ['users', 'namespaces', 'projects', 'routes', 'members', 'personal_access_tokens', 'deploy_tokens', 'application_settings'] as const;

/** Row counts of every table the management API writes. */
export async function rowCounts(t: TestApp): Promise<Record<string, number>> {
  const db = t.deps.database.db;
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  return out;
}

/** Runs a request that must be refused, and checks that it wrote nothing anywhere. */
export async function refusedWithoutWrites(t: TestApp, request: () => Promise<CallResult>): Promise<CallResult> {
  const before = await rowCounts(t);
  const r = await request();
  assert.ok(r.status >= 400 && r.status < 500, `expected a 4xx, got ${r.status} ${r.text}`);
  assert.deepEqual(await rowCounts(t), before, `a refused request (${r.status} ${r.text}) changed the database`);
  return r;
}

/** Is there any route (group, user namespace or project path) with this full path? */
export async function routeExists(t: TestApp, fullPath: string): Promise<boolean> {
  const r = await t.deps.database.db.selectFrom('routes').select('source_id').where('path_lower', '=', fullPath.toLowerCase()).executeTakeFirst();
  return r !== undefined;
}

export interface PageExpectation {
  page: number;
  perPage: number;
  total: number;
  totalPages: number;
  next: number | null;
  prev: number | null;
}

/** GitLab's offset-pagination headers, including the `Link` relations in GitLab's order. */
export function assertPagination(r: CallResult, e: PageExpectation): void {
  const h = r.headers;
  assert.equal(h['x-page'], String(e.page), 'X-Page');
  assert.equal(h['x-per-page'], String(e.perPage), 'X-Per-Page');
  assert.equal(h['x-total'], String(e.total), 'X-Total');
  assert.equal(h['x-total-pages'], String(e.totalPages), 'X-Total-Pages');
  assert.equal(h['x-next-page'], e.next === null ? '' : String(e.next), 'X-Next-Page');
  assert.equal(h['x-prev-page'], e.prev === null ? '' : String(e.prev), 'X-Prev-Page');
  const link = String(h.link ?? '');
  const rels = [...link.matchAll(/<([^>]+)>; rel="(\w+)"/g)].map((m) => ({ url: new URL(m[1]!), rel: m[2]! }));
  const expected = [...(e.prev !== null ? ['prev'] : []), ...(e.next !== null ? ['next'] : []), 'first', 'last'];
  assert.deepEqual(
    rels.map((l) => l.rel),
    expected,
    `Link relations in ${link}`,
  );
  const pageOf = (rel: string) => rels.find((l) => l.rel === rel)?.url.searchParams.get('page');
  if (e.prev !== null) assert.equal(pageOf('prev'), String(e.prev));
  if (e.next !== null) assert.equal(pageOf('next'), String(e.next));
  assert.equal(pageOf('first'), '1');
  assert.equal(pageOf('last'), String(e.totalPages));
  for (const l of rels) {
    assert.equal(l.url.origin, 'http://wharf.test', 'Link uses the external URL');
    assert.equal(l.url.searchParams.get('per_page'), String(e.perPage));
  }
}

/** A body that names the field somewhere: `{"error":"name is missing"}` or `{"message":{"name":[...]}}`. */
export function assertNamesField(r: CallResult, field: string): void {
  const text = JSON.stringify(r.body);
  assert.ok(text.includes(field), `expected the body to name "${field}": ${r.text}`);
}
