/**
 * The verification keys of the OIDC issuers trusted publishing accepts (docs/design/trusted-publishing.md#keys):
 * pinned by the administrator (`trusted_publishing_jwks`), or found through the issuer's discovery document
 * (`<issuer>/.well-known/openid-configuration` → `jwks_uri`) and fetched by jose's remote key set, which caches
 * them and refetches (at most every `cooldown`) when a token names a key it does not hold. Every fetch is bounded in
 * time and size.
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { errors } from '../domain/errors.js';

/** How long one fetch (discovery or JWKS) may take. */
const FETCH_TIMEOUT_MS = 5000;
/** Largest discovery document or JWKS read. */
const MAX_DOCUMENT_BYTES = 256 * 1024;
/** How long fetched keys are used before they are fetched again. */
const KEYS_MAX_AGE_MS = 10 * 60 * 1000;
/** Least time between two fetches of one issuer's keys (an unknown `kid` triggers one). */
const REFETCH_COOLDOWN_MS = 30 * 1000;
/** How long a discovery document is trusted before it is read again. */
const DISCOVERY_MAX_AGE_MS = 60 * 60 * 1000;
/** Issuers remembered (the allowed list has at most 20; a bound all the same). */
const MAX_ISSUERS = 64;

/** Reads at most `MAX_DOCUMENT_BYTES` of a response body. */
async function boundedText(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_DOCUMENT_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`more than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A fetch that never follows redirects, times out, and reads a bounded body (what jose's key set is given too). */
async function boundedFetch(url: string, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]) : AbortSignal.timeout(FETCH_TIMEOUT_MS);
  const response = await fetch(url, { headers: { accept: 'application/json', ...init.headers }, redirect: 'error', signal });
  const text = await boundedText(response);
  return new Response(text, { status: response.status, headers: { 'content-type': 'application/json' } });
}

/**
 * Where an issuer's keys may be fetched from: `https://`, or, for an `http://` issuer (listed explicitly for tests
 * and closed networks), its own origin.
 */
function jwksUriAllowed(issuer: string, jwksUri: string): boolean {
  let u: URL;
  try {
    u = new URL(jwksUri);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && u.origin === new URL(issuer).origin;
}

export class OidcKeys {
  readonly #remote = new Map<string, { keys: JWTVerifyGetKey; until: number }>();
  readonly #pinned = new Map<string, { json: string; keys: JWTVerifyGetKey }>();
  /** Discovery failures, remembered for the refetch cooldown: an unreachable issuer is not asked again per request. */
  readonly #failed = new Map<string, { error: unknown; until: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The key set of `issuer`: its pinned keys when there are any, else its published ones. */
  async keysOf(issuer: string, pinned: JSONWebKeySet | undefined): Promise<JWTVerifyGetKey> {
    if (pinned) {
      const json = JSON.stringify(pinned);
      const hit = this.#pinned.get(issuer);
      if (hit && hit.json === json) return hit.keys;
      const keys = createLocalJWKSet(pinned);
      if (this.#pinned.size >= MAX_ISSUERS) this.#pinned.clear();
      this.#pinned.set(issuer, { json, keys });
      return keys;
    }
    const now = this.#now();
    const hit = this.#remote.get(issuer);
    if (hit && hit.until > now) return hit.keys;
    const failed = this.#failed.get(issuer);
    if (failed && failed.until > now) throw failed.error;
    let jwksUri: string;
    try {
      jwksUri = await this.#discover(issuer);
    } catch (error) {
      if (this.#failed.size >= MAX_ISSUERS) this.#failed.clear();
      this.#failed.set(issuer, { error, until: now + REFETCH_COOLDOWN_MS });
      throw error;
    }
    this.#failed.delete(issuer);
    const keys = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: FETCH_TIMEOUT_MS,
      cacheMaxAge: KEYS_MAX_AGE_MS,
      cooldownDuration: REFETCH_COOLDOWN_MS,
      [customFetch]: (url: string, options: { headers: Headers; signal: AbortSignal }) =>
        boundedFetch(url, { headers: Object.fromEntries(options.headers.entries()), signal: options.signal }),
    });
    if (this.#remote.size >= MAX_ISSUERS) this.#remote.clear();
    this.#remote.set(issuer, { keys, until: now + DISCOVERY_MAX_AGE_MS });
    return keys;
  }

  async #discover(issuer: string): Promise<string> {
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await boundedFetch(`${issuer}/.well-known/openid-configuration`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      doc = JSON.parse(await response.text()) as typeof doc;
    } catch (err) {
      throw errors.oidcTokenRefused(`the issuer's discovery document could not be read (${(err as Error).message.slice(0, 200)})`);
    }
    if (typeof doc.issuer === 'string' && doc.issuer.replace(/\/+$/, '') !== issuer) {
      throw errors.oidcTokenRefused("the issuer's discovery document names another issuer");
    }
    if (typeof doc.jwks_uri !== 'string' || !jwksUriAllowed(issuer, doc.jwks_uri)) {
      throw errors.oidcTokenRefused("the issuer's discovery document has no usable jwks_uri (https://, or the http:// issuer's own origin)");
    }
    return doc.jwks_uri;
  }
}
