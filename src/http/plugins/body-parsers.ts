/**
 * GitLab's API takes parameters as JSON, as form fields (`curl --data "name=x&scopes[]=api"`) or in the query string
 * of a POST or PUT; scripts written against GitLab use all three, so Wharf merges them (body wins) before validation.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../domain/errors.js';
import { isBlank, MAX_JSON_DEPTH, scanJson } from './json-body.js';

export function parseForm(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) addParam(out, k, v);
  return out;
}

function addParam(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key.endsWith('[]')) {
    const name = key.slice(0, -2);
    const prev = out[name];
    // A repeated query key (`scopes[]=api&scopes[]=read_api`) arrives from the query parser as one array already.
    const values = Array.isArray(value) ? value : [value];
    out[name] = Array.isArray(prev) ? [...prev, ...values] : prev === undefined ? values : [prev, ...values];
  } else {
    out[key] = value;
  }
}

export function registerBodyParsers(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseForm(body as string));
  });
  registerBoundedJsonParser(app, false);
}

/**
 * Replaces the instance's `application/json` parser with Fastify's own (prototype-poisoning protection) behind the
 * nesting bound of `json-body.ts`. With `emptyIsNone`, an empty body parses to `undefined` instead of a 400.
 */
function registerBoundedJsonParser(app: FastifyInstance, emptyIsNone: boolean): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const parseText = (request: FastifyRequest) => (text: string) =>
    new Promise<unknown>((resolve, reject) => parseJson(request, text, (err, value) => (err ? reject(err) : resolve(value))));
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, async (request: FastifyRequest, body: Buffer) => {
    if (emptyIsNone && isBlank(body)) return undefined;
    const scan = scanJson(body);
    if (scan.tooDeep) throw errors.jsonTooDeep(MAX_JSON_DEPTH);
    return parseText(request)(body.toString('utf8'));
  });
}

const CREDENTIAL_PARAMS = new Set(['private_token', 'access_token', 'bearer_token', 'job_token']);

/** preValidation hook for management routes: query parameters of a write request join its body. */
export function mergeQueryIntoBody(request: { method: string; query: unknown; body: unknown }): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  const query = (request.query ?? {}) as Record<string, unknown>;
  const keys = Object.keys(query);
  if (keys.length === 0) {
    // A write with no parameters at all still gets GitLab's "… is missing" answer, not a body-type error.
    if (request.body === undefined || request.body === null) request.body = {};
    return;
  }
  const merged: Record<string, unknown> = {};
  // Credentials in the query string authenticate the request; they are not parameters of it.
  for (const k of keys) if (!CREDENTIAL_PARAMS.has(k)) addParam(merged, k, query[k]);
  const body = request.body;
  request.body = body && typeof body === 'object' && !Array.isArray(body) ? { ...merged, ...(body as object) } : merged;
}

/**
 * JSON for the management API, where an empty body is no body: `curl -X POST -H 'Content-Type: application/json'
 * '…/projects?name=web'` is a common GitLab call whose parameters are all in the query string. A non-empty body is
 * parsed by Fastify's own parser (with its prototype-poisoning protection). Register it inside the API plugin only.
 */
export function registerLenientJsonParser(app: FastifyInstance): void {
  registerBoundedJsonParser(app, true);
}
