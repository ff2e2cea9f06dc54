/**
 * Trusted publishing (docs/trusted-publishing.md, docs/design/trusted-publishing.md): a project's Maintainers name
 * the CI pipelines they trust (an issuer, the claims its ID token must carry, the names it may publish); npm in CI
 * exchanges the pipeline's ID token for a short-lived Wharf token that can publish one package in that project,
 * through the ordinary publish path (access, protection rules, name ownership).
 *
 * The exchanged token is `whtp-` + an HS256 JWT, keyed by a key derived from the instance's registry token secret
 * (migration 013) and verified where it is presented. It names the publisher, the project and the package; a
 * publisher deleted stops its tokens at once (verification looks it up), and a token expires after
 * `TRUSTED_PUBLISH_TOKEN_TTL_SECONDS`.
 */
import { hkdfSync, randomUUID, webcrypto } from 'node:crypto';
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { canAdminister } from '../domain/access/abilities.js';
import type { Identity, TrustedPublisherIdentity } from '../domain/access/identity.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import { isValidNpmName } from '../domain/npm/names.js';
import {
  claimsMatch,
  claimsProblems,
  globMatches,
  issuerProblem,
  MAX_PUBLISHERS_PER_PROJECT,
  normalizeIssuer,
  patternProblem,
  pipelineClaims,
  PROVIDER_NAMES,
  providerOf,
  trustedPublisherRecord,
} from '../domain/npm/trusted-publishing.js';
import type { ProjectRow, TrustedPublisherRow } from '../domain/records.js';
import type { AccessService } from './access.service.js';
import type { AuditService } from './audit.service.js';
import type { OidcKeys } from './oidc-keys.js';
import type { Executor } from './ports.js';
import type { RegistryTokenKeysPort } from './registry-tokens.service.js';
import type { SettingsService } from './settings.service.js';

/** How long an exchanged token publishes: one `npm publish`, with room for a slow upload. */
export const TRUSTED_PUBLISH_TOKEN_TTL_SECONDS = 15 * 60;
/** The prefix that tells a trusted publishing token from a personal or deploy token. */
export const TRUSTED_PUBLISH_TOKEN_PREFIX = 'whtp-';
const TOKEN_AUDIENCE = 'wharf:npm-trusted-publish';
/** Skew tolerated on ID tokens (the CI's clock) and on Wharf's own tokens (another instance's). */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Longest ID token read (GitLab's and GitHub's are 1–2 KB). */
const MAX_ID_TOKEN_LENGTH = 16 * 1024;
/** Publishers of one issuer matched per exchange. */
const MAX_PUBLISHERS_SCANNED = 1000;
/** Asymmetric algorithms only: an HMAC "ID token" would be signed with a secret the issuer shares with no one. */
const ID_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** A project's trusted publishers (`TrustedPublishersRepository`). */
export interface TrustedPublishersPort {
  list(db: Executor, projectId: number): Promise<TrustedPublisherRow[]>;
  count(db: Executor, projectId: number): Promise<number>;
  forIssuer(db: Executor, issuer: string, limit: number): Promise<TrustedPublisherRow[]>;
  findById(db: Executor, id: number): Promise<TrustedPublisherRow | undefined>;
  insert(db: Executor, row: Omit<TrustedPublisherRow, 'id'>): Promise<TrustedPublisherRow>;
  delete(db: Executor, projectId: number, id: number): Promise<TrustedPublisherRow | undefined>;
}

export interface TrustedPublishingServiceDeps {
  db: Executor;
  publishers: TrustedPublishersPort;
  keys: RegistryTokenKeysPort;
  oidcKeys: Pick<OidcKeys, 'keysOf'>;
  access: Pick<AccessService, 'readableProject'>;
  settings: Pick<SettingsService, 'get'>;
  audit: AuditService;
  clock: Clock;
  /** The external URL: its host is the audience ID tokens must name (`npm:<host>`), as npm asks for it. */
  externalUrl: string;
}

/** A publisher as the API shows it. */
export interface TrustedPublisherView {
  id: number;
  project_id: number;
  issuer: string;
  claims: Record<string, string>;
  package_name_pattern: string;
  provider: string;
  created_at: string;
}

export const presentPublisher = (r: TrustedPublisherRow): TrustedPublisherView => {
  const claims = JSON.parse(r.claims) as Record<string, string>;
  return {
    id: r.id,
    project_id: r.project_id,
    issuer: r.issuer,
    claims,
    package_name_pattern: r.package_name_pattern,
    provider: providerOf(r.issuer, claims),
    created_at: r.created_at,
  };
};

/** What the exchange answers (npm reads `token`). */
export interface ExchangedToken {
  token: string;
  expires_in: number;
}

export class TrustedPublishingService {
  readonly #d: TrustedPublishingServiceDeps;
  #key: Promise<webcrypto.CryptoKey> | undefined;

  constructor(deps: TrustedPublishingServiceDeps) {
    this.#d = deps;
  }

  /** The audience npm asks the CI for: `npm:` and the registry URL's host name (no port). */
  get audience(): string {
    return `npm:${new URL(this.#d.externalUrl).hostname}`;
  }

  async list(caller: Identity, idOrPath: string): Promise<TrustedPublisherRow[]> {
    const project = await this.#administered(caller, idOrPath);
    return this.#d.publishers.list(this.#d.db, project.id);
  }

  /** Every problem with the input at once (a 400 naming each field), then Maintainer's right to add it. */
  async create(caller: Identity, idOrPath: string, input: unknown, audit: AuditContext = contextOf(caller)): Promise<TrustedPublisherRow> {
    const project = await this.#administered(caller, idOrPath);
    const body = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    const problems: Record<string, string[]> = {};
    const { trusted_publishing_issuers: allowed } = await this.#d.settings.get();
    const issuer = typeof body.issuer === 'string' ? normalizeIssuer(body.issuer.trim()) : undefined;
    if (issuer === undefined) problems.issuer = ['is missing'];
    else {
      const problem = issuerProblem(issuer);
      if (problem) problems.issuer = [problem];
      else if (!allowed.includes(issuer)) problems.issuer = ['is not an issuer this instance allows (the trusted_publishing_issuers setting)'];
    }
    const claimProblems = claimsProblems(issuer ?? '', body.claims);
    if (claimProblems.length > 0) problems.claims = claimProblems;
    const patternIssue = patternProblem(body.package_name_pattern);
    if (patternIssue) problems.package_name_pattern = [patternIssue];
    if (Object.keys(problems).length > 0) throw errors.validation(problems);

    const { db, publishers } = this.#d;
    if ((await publishers.count(db, project.id)) >= MAX_PUBLISHERS_PER_PROJECT) {
      throw errors.validation({ base: [`a project may have at most ${MAX_PUBLISHERS_PER_PROJECT} trusted publishers`] });
    }
    // Stored in a stable order, so that the same claims always read the same.
    const claims = Object.fromEntries(Object.entries(body.claims as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const row = await publishers.insert(db, {
      project_id: project.id,
      issuer: issuer!,
      claims: JSON.stringify(claims),
      package_name_pattern: body.package_name_pattern as string,
      created_by: caller.kind === 'user' ? caller.userId : null,
      created_at: iso(this.#d.clock.now()),
    });
    await this.#event(audit, 'created', project, row);
    return row;
  }

  async remove(caller: Identity, idOrPath: string, publisherId: number, audit: AuditContext = contextOf(caller)): Promise<void> {
    const project = await this.#administered(caller, idOrPath);
    const row = await this.#d.publishers.delete(this.#d.db, project.id, publisherId);
    if (!row) throw errors.notFound('Trusted Publisher');
    await this.#event(audit, 'deleted', project, row);
  }

  /**
   * npm's exchange (`POST /-/npm/v1/oidc/token/exchange/package/<name>`, the ID token as Bearer): the token is
   * verified (issuer allowed, signature by one of its keys, audience, lifetime), the publisher whose issuer,
   * claims and pattern match is found, and a token that can publish `name` in its project is answered.
   */
  async exchange(idToken: string | undefined, name: string, ip: string | null): Promise<ExchangedToken> {
    if (!idToken) throw errors.oidcTokenRefused('an ID token is needed (Authorization: Bearer <the CI job\'s ID token>)');
    if (idToken.length > MAX_ID_TOKEN_LENGTH) throw errors.oidcTokenRefused('the ID token is too long');
    if (!isValidNpmName(name)) throw errors.oidcNoPublisher('the package name is not a valid npm name');
    const payload = await this.#verifyIdToken(idToken);
    const issuer = normalizeIssuer(payload.iss as string);

    const candidates = await this.#d.publishers.forIssuer(this.#d.db, issuer, MAX_PUBLISHERS_SCANNED);
    const forPipeline = candidates.filter((p) => claimsMatch(JSON.parse(p.claims) as Record<string, string>, payload));
    if (forPipeline.length === 0) throw errors.oidcNoPublisher("no trusted publisher matches this pipeline's claims");
    const matching = forPipeline.filter((p) => globMatches(p.package_name_pattern, name));
    if (matching.length === 0) throw errors.oidcNoPublisher(`no trusted publisher of this pipeline may publish ${name}`);
    const projects = new Set(matching.map((p) => p.project_id));
    if (projects.size > 1) throw errors.oidcNoPublisher(`more than one project trusts this pipeline to publish ${name}: narrow their package name patterns`);
    const publisher = matching[0]!;

    const claims = JSON.parse(publisher.claims) as Record<string, string>;
    const provider = providerOf(publisher.issuer, claims);
    const now = Math.floor(this.#d.clock.now().getTime() / 1000);
    const jwt = await new SignJWT({ wtp: { t: publisher.id, p: publisher.project_id, n: name } })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.#d.externalUrl)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(name)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + TRUSTED_PUBLISH_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(await this.#secret());

    const pipeline = pipelineClaims(payload);
    await this.#d.audit.record(
      this.#d.db,
      { author: { id: null, name: `${PROVIDER_NAMES[provider]} (trusted publisher ${publisher.id})`, type: 'TrustedPublisher' }, ip },
      {
        name: 'npm_trusted_publisher_token_exchanged',
        entity: { type: 'Project', id: publisher.project_id },
        target: { type: 'Packages::Npm::TrustedPublisher', id: publisher.id, details: name },
        message: `Trusted publisher ${publisher.id} (${publisher.issuer}) got a token to publish ${name} for pipeline ${JSON.stringify(pipeline)}`,
      },
    );
    return { token: TRUSTED_PUBLISH_TOKEN_PREFIX + jwt, expires_in: TRUSTED_PUBLISH_TOKEN_TTL_SECONDS };
  }

  /**
   * The identity behind a `whtp-` token, or a 401: tampered with, expired, or its publisher gone (deleting a
   * publisher ends its tokens at once).
   */
  async verify(token: string): Promise<TrustedPublisherIdentity> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token.slice(TRUSTED_PUBLISH_TOKEN_PREFIX.length), await this.#secret(), {
        algorithms: ['HS256'],
        issuer: this.#d.externalUrl,
        audience: TOKEN_AUDIENCE,
        currentDate: this.#d.clock.now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'nbf', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw errors.trustedPublishTokenInvalid('the trusted publishing token has expired: exchange a new ID token');
      throw errors.trustedPublishTokenInvalid('invalid trusted publishing token');
    }
    const wtp = payload.wtp as { t?: unknown; p?: unknown; n?: unknown } | undefined;
    if (typeof wtp?.t !== 'number' || typeof wtp.p !== 'number' || typeof wtp.n !== 'string') throw errors.trustedPublishTokenInvalid('invalid trusted publishing token');
    const publisher = await this.#d.publishers.findById(this.#d.db, wtp.t);
    if (!publisher || publisher.project_id !== wtp.p) throw errors.trustedPublishTokenInvalid('the trusted publisher of this token was removed');
    const provider = providerOf(publisher.issuer, JSON.parse(publisher.claims) as Record<string, string>);
    return Object.freeze({
      kind: 'trusted_publisher',
      publisherId: publisher.id,
      projectId: publisher.project_id,
      packageName: wtp.n,
      name: PROVIDER_NAMES[provider],
      record: JSON.stringify(trustedPublisherRecord(provider, publisher.id)),
    });
  }

  async #verifyIdToken(idToken: string): Promise<Record<string, unknown>> {
    let iss: unknown;
    try {
      iss = decodeJwt(idToken).iss;
    } catch {
      throw errors.oidcTokenRefused('the ID token is not a JWT');
    }
    const settings = await this.#d.settings.get();
    const issuer = typeof iss === 'string' ? normalizeIssuer(iss) : '';
    if (!issuer || !settings.trusted_publishing_issuers.includes(issuer)) {
      throw errors.oidcTokenRefused(`the ID token's issuer ${JSON.stringify(String(iss ?? '').slice(0, 200))} is not allowed on this instance`);
    }
    const keys = await this.#d.oidcKeys.keysOf(issuer, settings.trusted_publishing_jwks[issuer] as JSONWebKeySet | undefined);
    try {
      const { payload } = await jwtVerify(idToken, keys, {
        algorithms: ID_TOKEN_ALGORITHMS,
        issuer: iss as string,
        audience: this.audience,
        currentDate: this.#d.clock.now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat'],
      });
      return payload as Record<string, unknown>;
    } catch (err) {
      throw errors.oidcTokenRefused(this.#refusal(err));
    }
  }

  #refusal(err: unknown): string {
    if (err instanceof joseErrors.JWTExpired) return 'the ID token has expired';
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') return `the ID token's audience is not ${this.audience} (set aud: "${this.audience}" in the CI's id_tokens)`;
      if (err.claim === 'nbf' || err.claim === 'iat') return 'the ID token is not valid yet';
      return `the ID token's ${err.claim} claim is not valid`;
    }
    if (err instanceof joseErrors.JWKSNoMatchingKey) return 'the ID token is signed by a key its issuer does not publish';
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "the ID token's signature does not verify";
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the ID token is signed with an algorithm Wharf does not accept';
    if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || !(err instanceof joseErrors.JOSEError)) return "the issuer's keys could not be fetched";
    return 'the ID token does not verify';
  }

  async #administered(caller: Identity, idOrPath: string): Promise<ProjectRow> {
    if (caller.kind === 'anonymous') throw errors.unauthorized();
    const { project, ctx } = await this.#d.access.readableProject(caller, idOrPath);
    if (!canAdminister(caller, ctx.memberLevel)) throw errors.insufficientAccess();
    return project;
  }

  async #event(audit: AuditContext, what: 'created' | 'deleted', project: ProjectRow, row: TrustedPublisherRow): Promise<void> {
    const describe = `${row.issuer} ${row.claims} for ${row.package_name_pattern}`;
    await this.#d.audit.record(this.#d.db, audit, {
      name: `npm_trusted_publisher_${what}`,
      entity: { type: 'Project', id: project.id, path: project.full_path },
      target: { type: 'Packages::Npm::TrustedPublisher', id: row.id, details: row.package_name_pattern },
      message: `${what === 'created' ? 'Added' : 'Removed'} trusted publisher ${describe}`,
    });
  }

  /** Derived from the registry token secret (its own key: a registry token can never pass for this one). */
  #secret(): Promise<webcrypto.CryptoKey> {
    this.#key ??= this.#d.keys
      .current(this.#d.db)
      .then((secret) => {
        if (!secret) throw new Error('registry_token_keys holds no key (migration 013 creates one)');
        const derived = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), Buffer.alloc(0), 'wharf trusted publishing token', 32));
        return webcrypto.subtle.importKey('raw', derived, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
      })
      .catch((err: unknown) => {
        this.#key = undefined;
        throw err;
      });
    return this.#key;
  }
}
