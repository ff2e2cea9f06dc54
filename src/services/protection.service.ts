/**
 * Package protection rules (docs/design/gitlab-compatibility.md#protection-rules, GitLab's `project_packages_protection_rules` API): managed by a
 * project's Maintainers, checked by `require` on every push and every delete of a matching package, whichever route
 * it comes through.
 */
import { canAdminister, type ProjectAccessContext } from '../domain/access/abilities.js';
import type { Identity } from '../domain/access/identity.js';
import { DELETE_LEVELS, PUSH_LEVELS, protectionAllows, type ProtectedAction } from '../domain/access/protection.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import type { PackageType, ProjectRow, ProtectionLevel, ProtectionRuleRow } from '../domain/records.js';
import type { Executor, UniqueViolations } from './ports.js';
import type { AccessService } from './access.service.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

/** The fields of a rule a change may set. */
export type ProtectionRulePatch = Partial<
  Pick<ProtectionRuleRow, 'package_type' | 'package_name_pattern' | 'minimum_access_level_for_push' | 'minimum_access_level_for_delete' | 'updated_at'>
>;

/** A project's rules (`ProtectionRulesRepository`); it also tells a pattern taken twice at once. */
export interface ProtectionRulesPort extends UniqueViolations {
  /** In creation order. */
  list(db: Executor, projectId: number): Promise<ProtectionRuleRow[]>;
  /** The rules a push or delete of one package type is checked against. */
  forType(db: Executor, projectId: number, type: PackageType): Promise<ProtectionRuleRow[]>;
  find(db: Executor, projectId: number, id: number): Promise<ProtectionRuleRow | undefined>;
  insert(db: Executor, row: Omit<ProtectionRuleRow, 'id'>): Promise<ProtectionRuleRow>;
  update(db: Executor, projectId: number, id: number, patch: ProtectionRulePatch): Promise<ProtectionRuleRow | undefined>;
  /** Whether a rule was deleted. */
  delete(db: Executor, projectId: number, id: number): Promise<boolean>;
}

export interface ProtectionServiceDeps {
  db: Executor;
  rules: ProtectionRulesPort;
  access: Pick<AccessService, 'readableProject'>;
  clock: Clock;
  audit: AuditService;
}

/** What the API accepts; `undefined` is "not given", `null` (or `""`) clears a minimum level. */
export interface ProtectionRuleInput {
  package_name_pattern?: string | undefined;
  package_type?: string | undefined;
  minimum_access_level_for_push?: string | null | undefined;
  minimum_access_level_for_delete?: string | null | undefined;
}

/**
 * One write of a package, as the protection check sees it. Pushes are everything that changes what a name
 * installs or shows (publish, deprecate, dist-tag add/move/remove, chart and provenance uploads); deletes take
 * versions or files away (unpublish, packages API, web UI, Helm channel DELETE).
 */
export interface PackageWrite {
  action: ProtectedAction;
  identity: Identity;
  project: ProjectRow;
  /** The caller's context on `project` (its membership level decides). */
  ctx: ProjectAccessContext;
  type: PackageType;
  name: string;
  /** Which route family answers: the refusal takes its shape. */
  surface: 'npm' | 'helm' | 'api';
}

const PACKAGE_TYPES: readonly PackageType[] = ['npm', 'helm'];
const MAX_PATTERN_LENGTH = 255;

function level(name: string, value: string | null | undefined, allowed: readonly ProtectionLevel[]): ProtectionLevel | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (!(allowed as readonly string[]).includes(value)) throw errors.params([`${name} does not have a valid value`]);
  return value as ProtectionLevel;
}

export class ProtectionService {
  readonly #d: ProtectionServiceDeps;
  constructor(deps: ProtectionServiceDeps) {
    this.#d = deps;
  }

  async list(caller: Identity, idOrPath: string): Promise<ProtectionRuleRow[]> {
    const project = await this.#administered(caller, idOrPath);
    return this.#d.rules.list(this.#d.db, project.id);
  }

  async create(caller: Identity, idOrPath: string, input: ProtectionRuleInput, audit: AuditContext = contextOf(caller)): Promise<ProtectionRuleRow> {
    const project = await this.#administered(caller, idOrPath);
    const missing = (['package_name_pattern', 'package_type'] as const).filter((k) => input[k] === undefined);
    if (missing.length > 0) throw errors.params(missing.map((k) => `${k} is missing`));
    const checked = this.#check(input);
    const push = checked.minimum_access_level_for_push ?? null;
    const del = checked.minimum_access_level_for_delete ?? null;
    this.#requireOneLevel(push, del);
    const now = iso(this.#d.clock.now());
    try {
      const row = await this.#d.rules.insert(this.#d.db, {
        project_id: project.id,
        package_type: checked.package_type!,
        package_name_pattern: checked.package_name_pattern!,
        minimum_access_level_for_push: push,
        minimum_access_level_for_delete: del,
        created_at: now,
        updated_at: now,
      });
      await this.#ruleEvent(audit, 'created', project, row);
      return row;
    } catch (err) {
      if (this.#d.rules.isUniqueViolation(err)) throw errors.validation({ package_name_pattern: ['has already been taken'] });
      throw err;
    }
  }

  async update(caller: Identity, idOrPath: string, ruleId: number, input: ProtectionRuleInput, audit: AuditContext = contextOf(caller)): Promise<ProtectionRuleRow> {
    const project = await this.#administered(caller, idOrPath);
    const existing = await this.#d.rules.find(this.#d.db, project.id, ruleId);
    if (!existing) throw errors.notFound('Package Protection Rule');
    const patch = this.#check(input);
    this.#requireOneLevel(
      patch.minimum_access_level_for_push !== undefined ? patch.minimum_access_level_for_push : existing.minimum_access_level_for_push,
      patch.minimum_access_level_for_delete !== undefined ? patch.minimum_access_level_for_delete : existing.minimum_access_level_for_delete,
    );
    try {
      const row = await this.#d.rules.update(this.#d.db, project.id, ruleId, { ...patch, updated_at: iso(this.#d.clock.now()) });
      if (!row) throw errors.notFound('Package Protection Rule');
      await this.#ruleEvent(audit, 'updated', project, row, existing);
      return row;
    } catch (err) {
      if (this.#d.rules.isUniqueViolation(err)) throw errors.validation({ package_name_pattern: ['has already been taken'] });
      throw err;
    }
  }

  async remove(caller: Identity, idOrPath: string, ruleId: number, audit: AuditContext = contextOf(caller)): Promise<void> {
    const project = await this.#administered(caller, idOrPath);
    const existing = await this.#d.rules.find(this.#d.db, project.id, ruleId);
    if (!existing || !(await this.#d.rules.delete(this.#d.db, project.id, ruleId))) throw errors.notFound('Package Protection Rule');
    await this.#ruleEvent(audit, 'deleted', project, existing);
  }

  /** The audit event of a rule change: the rule as it is now (as it was, for a deletion), and before an update. */
  async #ruleEvent(audit: AuditContext, what: 'created' | 'updated' | 'deleted', project: ProjectRow, rule: ProtectionRuleRow, before?: ProtectionRuleRow): Promise<void> {
    const describe = (r: ProtectionRuleRow) =>
      `${r.package_type} ${r.package_name_pattern} (push: ${r.minimum_access_level_for_push ?? 'any'}, delete: ${r.minimum_access_level_for_delete ?? 'any'})`;
    await this.#d.audit.record(this.#d.db, audit, {
      name: `package_protection_rule_${what}`,
      entity: { type: 'Project', id: project.id, path: project.full_path },
      target: { type: 'Packages::Protection::Rule', id: rule.id, details: rule.package_name_pattern },
      message: `${what === 'created' ? 'Created' : what === 'updated' ? 'Changed' : 'Deleted'} package protection rule ${describe(rule)}`,
      change: before ? { field: 'rule', from: describe(before), to: describe(rule) } : undefined,
    });
  }

  /**
   * THE protection check: every write or delete of a package passes here, once, with the package's name (the list
   * of paths is in docs/design/access-model.md). Throws GitLab's 403 in the shape of `write.surface` when a rule
   * keeps `identity` from doing `write.action`. Inside a write transaction, pass it as `db`, so the rules are read
   * where the write happens (and because the embedded SQLite has one connection, which the transaction holds).
   */
  async require(write: PackageWrite, db: Executor = this.#d.db): Promise<void> {
    const { action, identity, project, ctx, type, name } = write;
    if (identity.kind === 'user' && identity.isAdmin) return;
    const rules = await this.#d.rules.forType(db, project.id, type);
    if (rules.length === 0 || protectionAllows(rules, action, identity, ctx.memberLevel, name)) return;
    throw errors.packageProtected(action, write.surface);
  }

  async #administered(caller: Identity, idOrPath: string): Promise<ProjectRow> {
    // GitLab authenticates these routes before anything else, reads included.
    if (caller.kind === 'anonymous') throw errors.unauthorized();
    const { project, ctx } = await this.#d.access.readableProject(caller, idOrPath);
    if (!canAdminister(caller, ctx.memberLevel)) throw errors.insufficientAccess();
    return project;
  }

  #check(input: ProtectionRuleInput): ProtectionRulePatch {
    const patch: ProtectionRulePatch = {};
    if (input.package_type !== undefined) {
      if (!(PACKAGE_TYPES as readonly string[]).includes(input.package_type)) throw errors.params(['package_type does not have a valid value']);
      patch.package_type = input.package_type as PackageType;
    }
    if (input.package_name_pattern !== undefined) {
      const pattern = input.package_name_pattern.trim();
      if (pattern === '') throw errors.validation({ package_name_pattern: ["can't be blank"] });
      if (pattern.length > MAX_PATTERN_LENGTH) throw errors.validation({ package_name_pattern: [`is too long (maximum is ${MAX_PATTERN_LENGTH} characters)`] });
      patch.package_name_pattern = pattern;
    }
    const push = level('minimum_access_level_for_push', input.minimum_access_level_for_push, PUSH_LEVELS);
    if (push !== undefined) patch.minimum_access_level_for_push = push;
    const del = level('minimum_access_level_for_delete', input.minimum_access_level_for_delete, DELETE_LEVELS);
    if (del !== undefined) patch.minimum_access_level_for_delete = del;
    return patch;
  }

  #requireOneLevel(push: ProtectionLevel | null, del: ProtectionLevel | null): void {
    if (push === null && del === null) {
      throw errors.validation({ base: ['A rule must have at least a minimum access role for push or delete.'] });
    }
  }
}
