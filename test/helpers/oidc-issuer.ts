/**
 * A tiny OIDC issuer on loopback for the trusted publishing tests: it serves `/.well-known/openid-configuration` and
 * its JWKS, and signs ID tokens with a jose-generated key, as GitLab or GitHub Actions would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface IdTokenOptions {
  audience?: string;
  claims?: Record<string, unknown>;
  /** Seconds since the epoch the token is issued at (default: now). */
  issuedAt?: number;
  /** Lifetime in seconds (default 300); negative for an already expired token. */
  lifetime?: number;
  /** Sign with another key than the one the JWKS publishes (same `kid`, as an attacker would try). */
  foreignKey?: boolean;
  /** Issuer claim to put in the token (default: this issuer's URL). */
  issuer?: string;
}

export interface OidcIssuer {
  readonly url: string;
  readonly jwks: { keys: JWK[] };
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: () => number;
  /**
   * GitHub Actions' token request endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`): answers `{"value": <ID token>}` for the
   * `audience` query parameter, with `claims`, to a request bearing `requestToken`.
   */
  readonly actions: { url: string; requestToken: string; claims: Record<string, unknown>; audiences: string[] };
  sign(options?: IdTokenOptions): Promise<string>;
  close(): Promise<void>;
}

export async function startOidcIssuer(): Promise<OidcIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const foreign: { privateKey: CryptoKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'ES256', use: 'sig' };
  let fetches = 0;
  let url = '';
  const actions = { url: '', requestToken: 'actions-request-token', claims: {} as Record<string, unknown>, audiences: [] as string[] };
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/_apis/id-token')) {
      const audience = new URL(req.url, url).searchParams.get('audience') ?? '';
      actions.audiences.push(audience);
      if (req.headers.authorization !== `Bearer ${actions.requestToken}`) {
        res.statusCode = 401;
        res.end('{}');
        return;
      }
      void issuer.sign({ audience, claims: actions.claims }).then((value) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ count: 1, value }));
      });
    } else if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/oauth/discovery/keys`, id_token_signing_alg_values_supported: ['ES256'] }));
    } else if (req.url === '/oauth/discovery/keys') {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  actions.url = `${url}/_apis/id-token?api-version=2.0`;
  const issuer: OidcIssuer = {
    url,
    jwks: { keys: [jwk] },
    jwksFetches: () => fetches,
    actions,
    async sign(options: IdTokenOptions = {}) {
      const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
      return new SignJWT({ ...options.claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'test-key-1', typ: 'JWT' })
        .setIssuer(options.issuer ?? url)
        .setAudience(options.audience ?? 'npm:127.0.0.1')
        .setIssuedAt(iat)
        .setNotBefore(iat - 5)
        .setExpirationTime(iat + (options.lifetime ?? 300))
        .setSubject(String(options.claims?.sub ?? 'project_path:acme/lib:ref_type:branch:ref:main'))
        .sign(options.foreignKey ? foreign.privateKey : privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return issuer;
}

/** The claims of a GitLab CI job's ID token for `projectPath` (what GitLab puts in one). */
export const gitlabClaims = (projectPath: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: `project_path:${projectPath}:ref_type:branch:ref:main`,
  namespace_path: projectPath.split('/')[0],
  project_path: projectPath,
  project_id: '42',
  pipeline_id: '1001',
  pipeline_source: 'push',
  job_id: '5005',
  ref: 'main',
  ref_type: 'branch',
  ref_protected: 'true',
  user_login: 'alice',
  ...extra,
});
