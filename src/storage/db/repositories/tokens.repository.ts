import type { DeployTokenRow, PersonalAccessTokenRow } from '../schema.js';
import { sql } from 'kysely';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { PatFilter } from '../../../services/tokens.service.js';

export class TokensRepository {
  async insertPersonal(db: Db, row: Omit<PersonalAccessTokenRow, 'id'>): Promise<PersonalAccessTokenRow> {
    return db.insertInto('personal_access_tokens').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async findPersonalByDigest(db: Db, digest: string): Promise<PersonalAccessTokenRow | undefined> {
    return db.selectFrom('personal_access_tokens').selectAll().where('token_digest', '=', digest).executeTakeFirst();
  }

  async findPersonalById(db: Db, id: number): Promise<PersonalAccessTokenRow | undefined> {
    return db.selectFrom('personal_access_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listPersonal(db: Db, filter: PatFilter, page: Page, todayIso: string): Promise<PageOf<PersonalAccessTokenRow>> {
    let q = db.selectFrom('personal_access_tokens');
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    if (filter.revoked !== undefined) q = q.where('revoked', '=', filter.revoked ? 1 : 0);
    if (filter.search) {
      // Case-insensitive on both dialects; SQLite has no default LIKE escape character.
      q = q.where((eb) => eb(eb.fn('lower', ['name']), 'like', sql<string>`${`%${likeEscape(filter.search!.toLowerCase())}%`} escape '\\'`));
    }
    if (filter.state === 'active') {
      q = q.where('revoked', '=', 0).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', todayIso)]));
    } else if (filter.state === 'inactive') {
      q = q.where((eb) => eb.or([eb('revoked', '=', 1), eb('expires_at', '<=', todayIso)]));
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll().orderBy('id', 'asc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  async revokePersonal(db: Db, id: number): Promise<void> {
    await db.updateTable('personal_access_tokens').set({ revoked: 1 }).where('id', '=', id).execute();
  }

  async touchPersonal(db: Db, id: number, at: string): Promise<void> {
    await db.updateTable('personal_access_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  async insertDeploy(db: Db, row: Omit<DeployTokenRow, 'id'>): Promise<DeployTokenRow> {
    return db.insertInto('deploy_tokens').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async findDeployByDigest(db: Db, digest: string): Promise<DeployTokenRow | undefined> {
    return db.selectFrom('deploy_tokens').selectAll().where('token_digest', '=', digest).executeTakeFirst();
  }

  async findDeployById(db: Db, id: number): Promise<DeployTokenRow | undefined> {
    return db.selectFrom('deploy_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listDeploy(db: Db, owner: { projectId: number } | { groupId: number }, page: Page, activeOnly: boolean, nowIso: string): Promise<PageOf<DeployTokenRow>> {
    let q = db.selectFrom('deploy_tokens');
    q = 'projectId' in owner ? q.where('project_id', '=', owner.projectId) : q.where('group_id', '=', owner.groupId);
    if (activeOnly) q = q.where('revoked', '=', 0).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]));
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll().orderBy('id', 'asc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  async setDeployUsername(db: Db, id: number, username: string): Promise<void> {
    await db.updateTable('deploy_tokens').set({ username }).where('id', '=', id).execute();
  }

  async revokeDeploy(db: Db, id: number): Promise<void> {
    await db.updateTable('deploy_tokens').set({ revoked: 1 }).where('id', '=', id).execute();
  }

  /** GitLab's `DELETE …/deploy_tokens/:id` destroys the token. */
  async deleteDeploy(db: Db, id: number): Promise<void> {
    await db.deleteFrom('deploy_tokens').where('id', '=', id).execute();
  }
}
