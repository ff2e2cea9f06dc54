/**
 * The registry's npm signing keys (docs/design/registry-signatures.md): signs each version once, when it is
 * published, lists the public keys for `GET …/-/npm/v1/keys`, and rotates them.
 *
 * The key that signs is the newest one without an `expires` date; every key stays listed, so that signatures made
 * before a rotation keep verifying (npm accepts a key's signature for versions published before its `expires`).
 */
import type { KeyObject } from 'node:crypto';
import { INSTANCE, type AuditContext } from '../../domain/audit.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import {
  generateSigningKey,
  privateKeyOf,
  publicKeyOf,
  signVersion,
  type RegistryPublicKey,
  type RegistrySignature,
} from '../../domain/npm/signatures.js';
import type { Connection, Executor } from '../ports.js';
import type { AuditService } from '../audit.service.js';

export interface SigningKeyRecord {
  keyid: string;
  public_key: string;
  private_key: string;
  created_at: string;
  expires_at: string | null;
}

/** The `registry_signing_keys` rows (`SigningKeysRepository`). */
export interface SigningKeysPort {
  /** Every key, oldest first. */
  list(db: Executor): Promise<SigningKeyRecord[]>;
  /** The newest key without an expiry date: the one that signs. */
  active(db: Executor): Promise<SigningKeyRecord | undefined>;
  insert(db: Executor, row: SigningKeyRecord): Promise<void>;
  /** Sets `expires_at` on every key that has none. */
  expireActive(db: Executor, expiresAt: string): Promise<void>;
}

export interface SigningKeysServiceDeps {
  db: Connection & Executor;
  keys: SigningKeysPort;
  clock: Clock;
  /** A rotation is recorded in the audit log, in its transaction. */
  audit: Pick<AuditService, 'record'>;
}

export interface RotationResult {
  keyid: string;
  /** The keys that stopped signing, and until when their signatures count. */
  expired: Array<{ keyid: string; expires: string }>;
}

export class SigningKeysService {
  readonly #d: SigningKeysServiceDeps;
  /** Parsed private keys by key id (a key's material never changes; rotation adds rows). */
  readonly #parsed = new Map<string, KeyObject>();

  constructor(deps: SigningKeysServiceDeps) {
    this.#d = deps;
  }

  /**
   * The signatures of one version, with the key signing now. Read from the database on every publish (one
   * indexed row), so a rotation made by `wharf signing-keys rotate` in another process takes effect at once.
   * Call it after taking the version's `created_at`, so that time is never after the signing key's expiry.
   */
  async sign(db: Executor, name: string, version: string, integrity: string): Promise<RegistrySignature[]> {
    const row = await this.#d.keys.active(db);
    // Migration 014 creates the first key and a rotation always leaves one active.
    if (!row) throw new Error('registry_signing_keys holds no active key (migration 014 creates one)');
    let privateKey = this.#parsed.get(row.keyid);
    if (!privateKey) {
      privateKey = privateKeyOf(row.private_key);
      this.#parsed.set(row.keyid, privateKey);
    }
    return [signVersion({ keyid: row.keyid, privateKey }, name, version, integrity)];
  }

  /** `GET /-/npm/v1/keys`: every key, the expired ones with their `expires` date. */
  async publicKeys(): Promise<{ keys: RegistryPublicKey[] }> {
    const rows = await this.#d.keys.list(this.#d.db);
    return { keys: rows.map(publicKeyOf) };
  }

  /**
   * A new key signs from now on; the keys signing until now get `expires` = now + `overlapMs`, so versions
   * published meanwhile by instances that have not yet seen the new key still verify. `overlapMs` 0 is for a
   * compromised key: nothing it signs from now on is accepted.
   */
  async rotate(overlapMs: number, audit: AuditContext): Promise<RotationResult> {
    if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) throw new RangeError('overlap must be a non-negative number of milliseconds');
    const now = this.#d.clock.now();
    const expires = iso(new Date(now.getTime() + overlapMs));
    const generated = generateSigningKey();
    return this.#d.db.transaction().execute(async (trx) => {
      const before = (await this.#d.keys.list(trx)).filter((k) => k.expires_at === null);
      await this.#d.keys.expireActive(trx, expires);
      await this.#d.keys.insert(trx, { ...generated, created_at: iso(now), expires_at: null });
      await this.#d.audit.record(trx, audit, {
        name: 'npm_signing_key_rotated',
        entity: INSTANCE,
        target: { type: 'NpmSigningKey', id: null, details: generated.keyid },
        message: `Rotated the npm signing key to ${generated.keyid}; ${before.map((k) => k.keyid).join(', ') || 'no key'} signs validly until ${expires}`,
      });
      return { keyid: generated.keyid, expired: before.map((k) => ({ keyid: k.keyid, expires })) };
    });
  }
}
