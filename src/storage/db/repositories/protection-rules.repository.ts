import type { PackageType, ProtectionRuleRow } from '../schema.js';
import { isUniqueViolation, type Db } from './types.js';
import type { ProtectionRulePatch } from '../../../services/protection.service.js';

export type NewProtectionRule = Omit<ProtectionRuleRow, 'id'>;

export class ProtectionRulesRepository {
  /** Whether a write failed on the one-rule-per-pattern index, whatever the driver. */
  isUniqueViolation(err: unknown): boolean {
    return isUniqueViolation(err);
  }

  async list(db: Db, projectId: number): Promise<ProtectionRuleRow[]> {
    return db.selectFrom('package_protection_rules').selectAll().where('project_id', '=', projectId).orderBy('id').execute();
  }

  /** The rules a push or delete of one package type is checked against (the unique index leads with these columns). */
  async forType(db: Db, projectId: number, type: PackageType): Promise<ProtectionRuleRow[]> {
    return db.selectFrom('package_protection_rules').selectAll().where('project_id', '=', projectId).where('package_type', '=', type).execute();
  }

  async find(db: Db, projectId: number, id: number): Promise<ProtectionRuleRow | undefined> {
    return db.selectFrom('package_protection_rules').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
  }

  async insert(db: Db, row: NewProtectionRule): Promise<ProtectionRuleRow> {
    return db.insertInto('package_protection_rules').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async update(db: Db, projectId: number, id: number, patch: ProtectionRulePatch): Promise<ProtectionRuleRow | undefined> {
    return db.updateTable('package_protection_rules').set(patch).where('project_id', '=', projectId).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async delete(db: Db, projectId: number, id: number): Promise<boolean> {
    const r = await db.deleteFrom('package_protection_rules').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
