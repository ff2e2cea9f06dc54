import type { Db } from './types.js';

/** The registry token signing secret (migration 013). */
export class RegistryTokenKeysRepository {
  /** The newest key's secret (base64url). Migration 013 creates the first one, so there always is one. */
  async current(db: Db): Promise<string | undefined> {
    const row = await db.selectFrom('registry_token_keys').select('secret').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row?.secret;
  }
}
