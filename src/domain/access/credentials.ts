/**
 * Which token a request carries, and in which form (docs/design/gitlab-compatibility.md#npm-credential-lookup, #helm-credentials). Pure: takes headers and query,
 * returns the candidate token; looking it up is the identity service's job.
 */

export type CredentialMode =
  /** npm and management API routes: Deploy-Token, Bearer, PRIVATE-TOKEN, token query parameters, HTTP Basic. */
  | 'standard'
  /** Helm routes: HTTP Basic only, both username and password non-empty; every other form is ignored. */
  | 'basic-only'
  /**
   * The OCI API (`/v2/`): HTTP Basic as Helm takes it, or `Authorization: Bearer` with a registry token from
   * `/jwt/auth` (docs/design/helm-oci.md#access); a Bearer value is never looked up as a personal access token.
   */
  | 'registry';

export type CredentialSource = 'deploy-token-header' | 'bearer' | 'private-token' | 'query' | 'basic' | 'registry-token';

export interface Credential {
  readonly token: string;
  readonly source: CredentialSource;
  /** Username given with HTTP Basic; GitLab ignores it, we keep it only for logs of who tried. */
  readonly basicUsername?: string;
}

type HeaderValue = string | string[] | undefined;
export type Headers = Readonly<Record<string, HeaderValue>>;
export type Query = Readonly<Record<string, unknown>>;

const first = (v: HeaderValue): string | undefined => (Array.isArray(v) ? v[0] : v);

export function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function parseBearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

const queryToken = (query: Query, ...names: string[]): string | undefined => {
  for (const name of names) {
    const v = query[name];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
};

/**
 * The one token a request presents, or undefined for an anonymous request.
 *
 * Standard mode follows GitLab's precedence: HTTP Basic's password wins over everything (username ignored), then
 * `Deploy-Token`, then `Authorization: Bearer`, then `PRIVATE-TOKEN`, then the `private_token` / `access_token` /
 * `bearer_token` query parameters. Unlike GitLab, a personal access token sent through Basic is honoured rather
 * than quietly ignored (yarn's `npmAuthIdent` and `_auth` send Basic).
 */
export function extractCredential(headers: Headers, query: Query, mode: CredentialMode): Credential | undefined {
  const authorization = first(headers.authorization);
  const basic = parseBasic(authorization);
  if (mode === 'basic-only' || mode === 'registry') {
    if (basic && basic.username !== '' && basic.password !== '') {
      return { token: basic.password, source: 'basic', basicUsername: basic.username };
    }
    const bearer = mode === 'registry' ? parseBearer(authorization) : undefined;
    return bearer ? { token: bearer, source: 'registry-token' } : undefined;
  }
  if (basic && basic.password !== '') return { token: basic.password, source: 'basic', basicUsername: basic.username };
  const deploy = first(headers['deploy-token']);
  if (deploy) return { token: deploy, source: 'deploy-token-header' };
  const bearer = parseBearer(authorization);
  if (bearer) return { token: bearer, source: 'bearer' };
  const privateToken = first(headers['private-token']);
  if (privateToken) return { token: privateToken, source: 'private-token' };
  const q = queryToken(query, 'private_token', 'access_token', 'bearer_token');
  if (q) return { token: q, source: 'query' };
  return undefined;
}
