/** Users and their personal namespaces. */
import { iso, type Clock } from '../domain/clock.js';
import { errors, type FieldErrors } from '../domain/errors.js';
import { isEmail, pathProblems } from '../domain/paths.js';
import type { Identity } from '../domain/access/identity.js';
import type { MemberRow, NamespaceRow, Page, PageOf, UserRow } from '../domain/records.js';
import type { Connection, Executor, UniqueViolations } from './ports.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword, verifyAgainstDummy } from './passwords.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

export interface CreateUserInput {
  username: string;
  name: string;
  email: string;
  password?: string | undefined;
  admin?: boolean | undefined;
}

export interface UserFilter {
  search?: string | undefined;
  /** Whether `search` also matches e-mail addresses: only for administrators, or the search is an e-mail oracle. */
  searchEmail?: boolean | undefined;
  username?: string | undefined;
}

/** Where users are kept (`UsersRepository`). */
export interface UsersPort {
  insert(db: Executor, row: Omit<UserRow, 'id'>): Promise<UserRow>;
  findById(db: Executor, id: number): Promise<UserRow | undefined>;
  /** Case-insensitive, as GitLab's paths are. */
  findByUsername(db: Executor, username: string): Promise<UserRow | undefined>;
  findByEmail(db: Executor, email: string): Promise<UserRow | undefined>;
  count(db: Executor): Promise<number>;
  list(db: Executor, filter: UserFilter, page: Page): Promise<PageOf<UserRow>>;
  /** The updated user; undefined when there is none with that id. */
  update(db: Executor, id: number, patch: Partial<Omit<UserRow, 'id'>>): Promise<UserRow | undefined>;
}

/** A user's personal namespace and its route (`NamespacesRepository`); it also tells a lost race on a path. */
export interface UserNamespacesPort extends UniqueViolations {
  insert(db: Executor, row: Omit<NamespaceRow, 'id' | 'traversal_ids'>): Promise<NamespaceRow>;
  insertRoute(db: Executor, pathLower: string, sourceType: 'namespace' | 'project', sourceId: number): Promise<void>;
  routeExists(db: Executor, pathLower: string): Promise<boolean>;
  /** The namespace and its owner refer to each other: the owner is set once the user exists. */
  setOwner(db: Executor, namespaceId: number, ownerId: number): Promise<void>;
}

/** The user's Owner role in their namespace (`MembersRepository`). */
export interface UserMembersPort {
  insert(db: Executor, row: Omit<MemberRow, 'id'>): Promise<MemberRow>;
}

export interface UsersServiceDeps {
  db: Connection & Executor;
  users: UsersPort;
  namespaces: UserNamespacesPort;
  members: UserMembersPort;
  clock: Clock;
  audit: AuditService;
  /** Wrong-password limits (per login and per client address); every password check goes through it. */
  throttle: SignInThrottle;
}

export const requireAdmin = (identity: Identity): void => {
  if (identity.kind === 'anonymous') throw errors.unauthorized();
  if (identity.kind !== 'user' || !identity.isAdmin) throw errors.insufficientAccess();
};

export class UsersService {
  readonly #d: UsersServiceDeps;
  constructor(deps: UsersServiceDeps) {
    this.#d = deps;
  }

  /** Creates the user, their personal namespace (same path as the username) and their Owner role in it, at once. */
  async create(input: CreateUserInput, audit: AuditContext = contextOf(undefined)): Promise<UserRow> {
    const { db, users, namespaces, members, clock } = this.#d;
    // GitLab answers a duplicate user with 409 and a sentence, before any other validation error.
    if (await users.findByEmail(db, input.email)) throw errors.emailTaken();
    if (await users.findByUsername(db, input.username)) throw errors.usernameTaken();

    const problems: FieldErrors = {};
    const usernameProblems = pathProblems(input.username, 'user');
    // A group already holding the path is GitLab's `namespace_uniq` validation: 400 on `username`, not 409.
    if (usernameProblems.length === 0 && (await namespaces.routeExists(db, input.username.toLowerCase()))) {
      usernameProblems.push('has already been taken');
    }
    if (usernameProblems.length) problems.username = usernameProblems;
    if (input.name.trim() === '') problems.name = ["can't be blank"];
    else if (input.name.length > 255) problems.name = ['is too long (maximum is 255 characters)'];
    if (!isEmail(input.email)) problems.email = ['is invalid'];
    if (input.password !== undefined && input.password.length < MIN_PASSWORD_LENGTH) {
      problems.password = [`is too short (minimum is ${MIN_PASSWORD_LENGTH} characters)`];
    }
    if (Object.keys(problems).length) throw errors.validation(problems);

    const passwordHash = input.password !== undefined ? await hashPassword(input.password) : null;
    const now = iso(clock.now());
    try {
      return await db.transaction().execute(async (trx) => {
        const ns = await namespaces.insert(trx, {
          kind: 'user',
          name: input.name,
          path: input.username,
          full_path: input.username,
          parent_id: null,
          owner_id: null,
          visibility: 'public',
          description: '',
          created_at: now,
          updated_at: now,
        });
        await namespaces.insertRoute(trx, input.username.toLowerCase(), 'namespace', ns.id);
        const user = await users.insert(trx, {
          username: input.username,
          username_lower: input.username.toLowerCase(),
          name: input.name,
          email: input.email,
          email_lower: input.email.toLowerCase(),
          password_hash: passwordHash,
          is_admin: input.admin ? 1 : 0,
          state: 'active',
          namespace_id: ns.id,
          created_at: now,
          updated_at: now,
        });
        await namespaces.setOwner(trx, ns.id, user.id);
        await members.insert(trx, {
          user_id: user.id,
          source_type: 'namespace',
          source_id: ns.id,
          access_level: 50,
          expires_at: null,
          created_by_id: null,
          created_at: now,
        });
        await this.#d.audit.record(trx, audit, {
          name: 'user_created',
          entity: { type: 'User', id: user.id, path: user.username },
          target: { type: 'User', id: user.id, details: user.username },
          message: `Created ${user.is_admin ? 'administrator' : 'user'} ${user.username}${passwordHash ? '' : ' (without a password)'}`,
        });
        return user;
      });
    } catch (err) {
      // Lost a race with a concurrent create of the same username, e-mail or path.
      if (namespaces.isUniqueViolation(err)) throw errors.usernameTaken();
      throw err;
    }
  }

  async get(id: number): Promise<UserRow | undefined> {
    return this.#d.users.findById(this.#d.db, id);
  }

  async byUsername(username: string): Promise<UserRow | undefined> {
    return this.#d.users.findByUsername(this.#d.db, username);
  }

  async list(filter: UserFilter, page: Page): Promise<PageOf<UserRow>> {
    return this.#d.users.list(this.#d.db, filter, page);
  }

  async count(): Promise<number> {
    return this.#d.users.count(this.#d.db);
  }

  async setPassword(userId: number, password: string, audit: AuditContext = contextOf(undefined)): Promise<void> {
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw errors.validation({ password: [`is too short (minimum is ${MIN_PASSWORD_LENGTH} characters)`] });
    }
    const hash = await hashPassword(password);
    const updated = await this.#d.users.update(this.#d.db, userId, { password_hash: hash, updated_at: iso(this.#d.clock.now()) });
    if (!updated) throw errors.notFound('User');
    await this.#d.audit.record(this.#d.db, audit, {
      name: 'user_password_updated',
      entity: { type: 'User', id: userId },
      target: { type: 'User', id: userId },
      message: 'Changed password',
    });
  }

  /**
   * Username (or e-mail) and password; undefined for any mismatch, so callers cannot tell which part was wrong —
   * not by the answer, and not by its time: an unknown login, a user without a password and a blocked user cost
   * one password hash, as a known one does. Throttled per login and per `address` (`sign-in-throttle.ts`).
   */
  async authenticate(login: string, password: string, address?: string): Promise<UserRow | undefined> {
    const { db, users, throttle } = this.#d;
    return throttle.guard(login, address, async () => {
      const user = (await users.findByUsername(db, login)) ?? (await users.findByEmail(db, login));
      if (!user?.password_hash || user.state !== 'active') {
        await verifyAgainstDummy(password);
        return undefined;
      }
      return (await verifyPassword(password, user.password_hash)) ? user : undefined;
    });
  }
}
