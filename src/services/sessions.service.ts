/**
 * Web UI sessions: a random cookie value (only its SHA-256 stored) bound to a user and a CSRF token. Sessions live
 * in the database so every instance behind a load balancer knows them and signing out ends them everywhere.
 */
import { randomBytes } from 'node:crypto';
import { iso, type Clock } from '../domain/clock.js';
import { digestToken } from '../domain/access/tokens.js';
import type { UserRow } from '../domain/records.js';
import type { Executor } from './ports.js';
import type { UsersService } from './users.service.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

export const SESSION_LIFETIME_MS = 7 * 24 * 3600 * 1000;

export interface WebSession {
  user: UserRow;
  csrfToken: string;
}

/** A stored session: the cookie value's digest, whose it is, its CSRF token and when it ends. */
export interface SessionRecord {
  id_digest: string;
  user_id: number;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

/** Where sessions are kept (`SessionsRepository`). */
export interface SessionsPort {
  insert(db: Executor, row: SessionRecord): Promise<void>;
  find(db: Executor, idDigest: string): Promise<SessionRecord | undefined>;
  delete(db: Executor, idDigest: string): Promise<void>;
  deleteExpired(db: Executor, nowIso: string): Promise<void>;
}

/** The one user lookup a session needs (`UsersRepository`). */
export interface SessionUsersPort {
  findById(db: Executor, id: number): Promise<UserRow | undefined>;
}

export interface SessionsServiceDeps {
  db: Executor;
  sessions: SessionsPort;
  users: SessionUsersPort;
  usersService: UsersService;
  clock: Clock;
  audit: AuditService;
}

export class SessionsService {
  readonly #d: SessionsServiceDeps;
  constructor(deps: SessionsServiceDeps) {
    this.#d = deps;
  }

  /** Checks the password and opens a session; undefined when the login or password is wrong. */
  async signIn(login: string, password: string, audit: AuditContext = contextOf(undefined)): Promise<{ cookieValue: string; user: UserRow } | undefined> {
    const user = await this.#d.usersService.authenticate(login, password, audit.ip ?? undefined);
    if (!user) {
      await this.#d.audit.signInFailed(audit, login, 'web');
      return undefined;
    }
    await this.#d.audit.signedIn(audit, user, 'web');
    const cookieValue = randomBytes(32).toString('base64url');
    const now = this.#d.clock.now();
    await this.#d.sessions.deleteExpired(this.#d.db, iso(now));
    await this.#d.sessions.insert(this.#d.db, {
      id_digest: digestToken(cookieValue),
      user_id: user.id,
      csrf_token: randomBytes(24).toString('base64url'),
      created_at: iso(now),
      expires_at: iso(new Date(now.getTime() + SESSION_LIFETIME_MS)),
    });
    return { cookieValue, user };
  }

  async resolve(cookieValue: string | undefined): Promise<WebSession | undefined> {
    if (!cookieValue) return undefined;
    const row = await this.#d.sessions.find(this.#d.db, digestToken(cookieValue));
    if (!row || row.expires_at <= iso(this.#d.clock.now())) return undefined;
    const user = await this.#d.users.findById(this.#d.db, row.user_id);
    if (!user || user.state !== 'active') return undefined;
    return { user, csrfToken: row.csrf_token };
  }

  async signOut(cookieValue: string | undefined): Promise<void> {
    if (cookieValue) await this.#d.sessions.delete(this.#d.db, digestToken(cookieValue));
  }
}
