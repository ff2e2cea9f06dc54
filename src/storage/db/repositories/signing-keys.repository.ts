import type { SigningKeyRecord } from '../../../services/npm/signing-keys.service.js';
import type { Db } from './types.js';

/** The registry's npm signing keys (migration 014). */
export class SigningKeysRepository {
  async list(db: Db): Promise<SigningKeyRecord[]> {
    return db.selectFrom('registry_signing_keys').selectAll().orderBy('created_at').orderBy('keyid').execute();
  }

  async active(db: Db): Promise<SigningKeyRecord | undefined> {
    return db
      .selectFrom('registry_signing_keys')
      .selectAll()
      .where('expires_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('keyid', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async insert(db: Db, row: SigningKeyRecord): Promise<void> {
    await db.insertInto('registry_signing_keys').values(row).execute();
  }

  async expireActive(db: Db, expiresAt: string): Promise<void> {
    await db.updateTable('registry_signing_keys').set({ expires_at: expiresAt }).where('expires_at', 'is', null).execute();
  }
}
