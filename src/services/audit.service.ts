/**
 * The audit log (docs/design/audit-log.md): services record an event with the change it describes — inside the
 * change's transaction when it has one, so a rolled-back change leaves no event — and administrators read them
 * through GitLab's `GET /audit_events`. Events never hold a secret: no token value, no password, no digest.
 */
import {
  boundedText,
  INSTANCE,
  isAuditEntityType,
  MAX_ATTEMPTED_LOGIN,
  MAX_IP_LENGTH,
  UNAUTHENTICATED_AUTHOR,
  type AuditAuthor,
  type AuditContext,
  type AuditEntityType,
  type AuditEventName,
} from '../domain/audit.js';
import type { Identity } from '../domain/access/identity.js';
import { iso, type Clock } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import type { AuditEventRow, Page, PageOf, UserRow } from '../domain/records.js';
import type { Executor } from './ports.js';
import { parseIsoDateTime } from './tokens.service.js';
import { requireAdmin } from './users.service.js';

export interface AuditEvent {
  name: AuditEventName;
  /** Where it happened; the path is looked up when not given. */
  entity: { type: AuditEntityType; id: number | null; path?: string | null | undefined };
  /** What it happened to. */
  target?: { type: string; id: number | null; details?: string | null | undefined } | undefined;
  /** GitLab's `custom_message`: one sentence for people. */
  message: string;
  /** A changed attribute, as GitLab's `change`, `from` and `to`. */
  change?: { field: string; from: string | null; to: string | null } | undefined;
}

/** How a password reached Wharf; shown in the event's message. */
export type SignInChannel = 'web' | 'npm login';

export interface AuditQuery {
  created_after?: string | undefined;
  created_before?: string | undefined;
  entity_type?: string | undefined;
  entity_id?: number | undefined;
}

export interface AuditEventFilter {
  /** ISO-8601 UTC bounds, both inclusive (GitLab's "on or after", "on or before"). */
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
  entityType?: string | undefined;
  entityId?: number | undefined;
}

/** Where events are kept (`AuditEventsRepository`). */
export interface AuditEventsPort {
  insert(db: Executor, row: Omit<AuditEventRow, 'id'>): Promise<void>;
  /** Newest first. */
  list(db: Executor, filter: AuditEventFilter, page: Page): Promise<PageOf<AuditEventRow>>;
  find(db: Executor, id: number): Promise<AuditEventRow | undefined>;
  /** The current full path of a user, group or project, null when it is gone. */
  entityPath(db: Executor, type: 'User' | 'Group' | 'Project', id: number): Promise<string | null>;
  /** Deletes at most `limit` events older than `before`; how many it deleted. */
  deleteOlderThan(db: Executor, before: string, limit: number): Promise<number>;
  countOlderThan(db: Executor, before: string): Promise<number>;
}

/** The user lookups behind a failed sign-in's author (`UsersRepository`). */
export interface AuditUsersPort {
  findByUsername(db: Executor, username: string): Promise<UserRow | undefined>;
  findByEmail(db: Executor, email: string): Promise<UserRow | undefined>;
}

export interface AuditServiceDeps {
  db: Executor;
  events: AuditEventsPort;
  users: AuditUsersPort;
  clock: Clock;
}

/** Longest `from`/`to` value kept (a setting's value); the change itself, not a copy of large input. */
const MAX_CHANGE_VALUE = 500;
/** Rows per retention delete: short statements, however large the backlog. */
const PRUNE_BATCH = 1000;
const DAY_MS = 86_400_000;

export class AuditService {
  readonly #d: AuditServiceDeps;
  constructor(deps: AuditServiceDeps) {
    this.#d = deps;
  }

  /** Appends one event. Pass the change's transaction as `db`, so the event commits or rolls back with it. */
  async record(db: Executor, ctx: AuditContext, event: AuditEvent, author: AuditAuthor = ctx.author): Promise<void> {
    const { entity, target, change } = event;
    let entityPath = entity.path ?? null;
    if (entityPath === null && entity.id !== null && entity.type !== 'Gitlab::Audit::InstanceScope') {
      entityPath = await this.#d.events.entityPath(db, entity.type, entity.id);
    }
    const details: Record<string, unknown> = { custom_message: event.message, author_class: author.type };
    if (change) {
      details.change = change.field;
      details.from = change.from === null ? null : boundedText(change.from, MAX_CHANGE_VALUE);
      details.to = change.to === null ? null : boundedText(change.to, MAX_CHANGE_VALUE);
    }
    await this.#d.events.insert(db, {
      event_name: event.name,
      author_id: author.id,
      author_name: author.name,
      entity_type: entity.type,
      entity_id: entity.id,
      entity_path: entityPath,
      target_type: target?.type ?? null,
      target_id: target?.id ?? null,
      target_details: target?.details ?? null,
      ip_address: ctx.ip === null ? null : boundedText(ctx.ip, MAX_IP_LENGTH),
      details: JSON.stringify(details),
      created_at: iso(this.#d.clock.now()),
    });
  }

  /** A password accepted (web sign-in, `npm login`): the user is the author, the entity and the target. */
  async signedIn(ctx: AuditContext, user: UserRow, via: SignInChannel): Promise<void> {
    await this.record(
      this.#d.db,
      ctx,
      {
        name: 'authenticated_with_password',
        entity: { type: 'User', id: user.id, path: user.username },
        target: { type: 'User', id: user.id, details: user.username },
        message: `Signed in with STANDARD authentication (${via})`,
      },
      { id: user.id, name: user.username, type: 'User' },
    );
  }

  /**
   * A password refused. The author is unauthenticated whoever the login names; the entity is the named user when
   * there is one (so an administrator can list the attempts on one account), the instance otherwise. The attempted
   * login is kept, bounded, as the target's details — never the password.
   */
  async signInFailed(ctx: AuditContext, login: string, via: SignInChannel): Promise<void> {
    const { db, users } = this.#d;
    // Both lookups every time: the work done after a refusal must not depend on whether the login exists.
    const byName = await users.findByUsername(db, login);
    const byEmail = await users.findByEmail(db, login);
    const user = byName ?? byEmail;
    await this.record(
      db,
      ctx,
      {
        name: 'login_failed_with_standard_authentication',
        entity: user ? { type: 'User', id: user.id, path: user.username } : INSTANCE,
        target: { type: 'User', id: user?.id ?? null, details: boundedText(login, MAX_ATTEMPTED_LOGIN) },
        message: `Failed to login with STANDARD authentication (${via})`,
      },
      UNAUTHENTICATED_AUTHOR,
    );
  }

  /** GitLab's `GET /audit_events`: administrators only; newest first. */
  async list(caller: Identity, query: AuditQuery, page: Page): Promise<PageOf<AuditEventRow>> {
    requireAdmin(caller);
    return this.#d.events.list(this.#d.db, filterOf(query), page);
  }

  async get(caller: Identity, id: number): Promise<AuditEventRow> {
    requireAdmin(caller);
    const row = await this.#d.events.find(this.#d.db, id);
    // GitLab's finder raises ActiveRecord::RecordNotFound here.
    if (!row) throw errors.recordNotFound();
    return row;
  }

  /**
   * Retention: deletes the events older than `retentionDays` (none when null), in short batches. Returns how many
   * went, or with `dryRun` how many would.
   */
  async prune(retentionDays: number | null, dryRun = false): Promise<number> {
    if (retentionDays === null) return 0;
    const { db, events, clock } = this.#d;
    const before = iso(new Date(clock.now().getTime() - retentionDays * DAY_MS));
    if (dryRun) return events.countOlderThan(db, before);
    let total = 0;
    for (;;) {
      const n = await events.deleteOlderThan(db, before, PRUNE_BATCH);
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }
}

/** GitLab's parameters: ISO 8601 bounds, one of its entity types, and `entity_id` only with `entity_type`. */
function filterOf(q: AuditQuery): AuditEventFilter {
  const time = (name: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const t = parseIsoDateTime(value);
    if (t === undefined) throw errors.params([`${name} is invalid`]);
    return iso(new Date(t));
  };
  if (q.entity_id !== undefined && q.entity_type === undefined) throw errors.params(['entity_type is missing']);
  if (q.entity_type !== undefined && !isAuditEntityType(q.entity_type)) throw errors.params(['entity_type does not have a valid value']);
  return {
    createdAfter: time('created_after', q.created_after),
    createdBefore: time('created_before', q.created_before),
    entityType: q.entity_type,
    entityId: q.entity_id,
  };
}
