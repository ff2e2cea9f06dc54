/**
 * Registry signatures on SQLite and PostgreSQL (docs/design/registry-signatures.md): `GET …/-/npm/v1/keys` at the
 * project, group and instance endpoints, for anyone; every published version's `dist.signatures` in the full and
 * abbreviated packuments at each level, verifiable with node:crypto against the listed key over
 * `<name>@<version>:<integrity>`; a rotation that keeps old signatures verifiable and signs new versions with the
 * new key; a tampered document that does not verify; and migration 014's signing of the versions published
 * before it. test/e2e/npm-signatures.test.ts runs npm's own pacote.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.js';
import { contextOf } from '../../src/domain/audit.js';
import { migration014 } from '../../src/storage/db/migrations/014-registry-signing-keys.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, published, type NpmWorld } from '../helpers/npm.js';

const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

interface Key {
  keyid: string;
  keytype: string;
  scheme: string;
  key: string;
  expires: string | null;
}
interface Signature {
  keyid: string;
  sig: string;
}

/** What pacote does: find the key by id, check the version was published before it expired, verify. */
function verifies(keys: readonly Key[], name: string, version: string, integrity: string, publishedAt: string, sig: Signature): boolean {
  const key = keys.find((k) => k.keyid === sig.keyid);
  if (!key) return false;
  if (key.expires !== null && !(Date.parse(publishedAt) < Date.parse(key.expires))) return false;
  const pem = `-----BEGIN PUBLIC KEY-----\n${key.key}\n-----END PUBLIC KEY-----`;
  return verify('sha256', Buffer.from(`${name}@${version}:${integrity}`), createPublicKey(pem), Buffer.from(sig.sig, 'base64'));
}

for (const dialect of DIALECTS) {
  describe(`npm registry signatures [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let groupId: number;
    let privateGroupId: number;
    const NAME = '@pubgrp/signed';
    const levels = () => ({
      project: npmBase(w.project.public),
      group: `/api/v4/groups/${groupId}/-/packages/npm`,
      instance: '/api/v4/packages/npm',
    });
    const keysAt = async (base: string, headers: Record<string, string> = {}): Promise<Key[]> => {
      const r = await t.call('GET', `${base}/-/npm/v1/keys`, { headers });
      assert.equal(r.status, 200, `${base}: ${r.status} ${r.text}`);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      return (r.body as { keys: Key[] }).keys;
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      const groups = (await t.call('GET', '/api/v4/groups?per_page=100', { headers: bearer(w.token.maintainer) })).body as Array<{ id: number; path: string }>;
      groupId = groups.find((g) => g.path === 'pubgrp')!.id;
      privateGroupId = groups.find((g) => g.path === 'privgrp')!.id;
      await published(t, w.project.public, NAME, '1.0.0');
    });
    after(() => t.close());

    it('lists one P-256 key, in the format npm reads, at every level and for anyone', async () => {
      const { project, group, instance } = levels();
      const keys = await keysAt(project);
      assert.equal(keys.length, 1);
      const [k] = keys;
      assert.equal(k!.keytype, 'ecdsa-sha2-nistp256');
      assert.equal(k!.scheme, 'ecdsa-sha2-nistp256');
      assert.equal(k!.expires, null);
      assert.match(k!.keyid, /^SHA256:[A-Za-z0-9+/]{43}$/);
      const spki = createPublicKey({ key: Buffer.from(k!.key, 'base64'), format: 'der', type: 'spki' });
      assert.equal(spki.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.deepEqual(await keysAt(group), keys);
      assert.deepEqual(await keysAt(instance), keys);
      // Public key material: a private project's or group's endpoint answers it too, and a bad token is not read.
      assert.deepEqual(await keysAt(npmBase(w.project.private)), keys);
      assert.deepEqual(await keysAt(`/api/v4/groups/${privateGroupId}/-/packages/npm`), keys);
      assert.deepEqual(await keysAt(instance, bearer('not-a-token')), keys);
      // Only GET: there is nothing to write.
      const put = await t.call('PUT', `${project}/-/npm/v1/keys`, { headers: bearer(w.token.maintainer), body: { keys: [] } });
      assert.ok(put.status >= 400 && put.status < 500, `${put.status}`);
    });

    it('signs the version at publish; the full and abbreviated packuments carry the signature at every level', async () => {
      const keys = await keysAt(levels().project);
      for (const [level, base] of Object.entries(levels())) {
        for (const accept of ['application/json', CORGI]) {
          const r = await t.call('GET', `${base}/${esc(NAME)}`, { headers: { accept } });
          assert.equal(r.status, 200, `${level} ${accept}: ${r.text}`);
          const v = r.body.versions['1.0.0'];
          const { integrity, signatures } = v.dist as { integrity: string; signatures: Signature[] };
          assert.equal(signatures.length, 1, `${level} ${accept}`);
          assert.equal(signatures[0]!.keyid, keys[0]!.keyid);
          assert.ok(verifies(keys, NAME, '1.0.0', integrity, r.body.time['1.0.0'], signatures[0]!), `${level} ${accept}: the signature verifies`);
          // A tampered document does not: another integrity, another version, another name.
          assert.equal(verifies(keys, NAME, '1.0.0', integrity.replace(/^sha512-./, 'sha512-A'), r.body.time['1.0.0'], signatures[0]!), false);
          assert.equal(verifies(keys, NAME, '1.0.1', integrity, r.body.time['1.0.0'], signatures[0]!), false);
          assert.equal(verifies(keys, '@pubgrp/other', '1.0.0', integrity, r.body.time['1.0.0'], signatures[0]!), false);
        }
      }
    });

    it('a rotation keeps old signatures verifiable, signs new versions with the new key, and changes no packument', async () => {
      const { project } = levels();
      const before = await t.call('GET', `${project}/${esc(NAME)}`);
      const [oldKey] = await keysAt(project);
      const rotated = await t.deps.services.npm.signingKeys.rotate(0, contextOf(undefined));
      assert.notEqual(rotated.keyid, oldKey!.keyid);
      assert.deepEqual(rotated.expired.map((e) => e.keyid), [oldKey!.keyid]);

      const keys = await keysAt(project);
      assert.deepEqual(keys.map((k) => k.keyid), [oldKey!.keyid, rotated.keyid]);
      assert.equal(keys[0]!.expires, rotated.expired[0]!.expires);
      assert.equal(keys[1]!.expires, null);
      const [event] = await t.deps.database.db.selectFrom('audit_events').selectAll().where('event_name', '=', 'npm_signing_key_rotated').execute();
      assert.equal(event?.target_details, rotated.keyid, 'the rotation is in the audit log');
      assert.equal(event?.author_name, 'wharf');

      const unchanged = await t.call('GET', `${project}/${esc(NAME)}`);
      assert.equal(unchanged.headers.etag, before.headers.etag, 'signatures are stored, not made per request');

      await published(t, w.project.public, NAME, '2.0.0');
      const r = await t.call('GET', `${project}/${esc(NAME)}`);
      const v1 = r.body.versions['1.0.0'].dist;
      const v2 = r.body.versions['2.0.0'].dist;
      assert.equal(v1.signatures[0].keyid, oldKey!.keyid);
      assert.equal(v2.signatures[0].keyid, rotated.keyid);
      assert.ok(verifies(keys, NAME, '1.0.0', v1.integrity, r.body.time['1.0.0'], v1.signatures[0]), 'published before the old key expired');
      assert.ok(verifies(keys, NAME, '2.0.0', v2.integrity, r.body.time['2.0.0'], v2.signatures[0]));
      // The old key's signature over the new version would be refused: it was published after the key expired.
      const oldOverNew = { keyid: oldKey!.keyid, sig: v1.signatures[0].sig };
      assert.equal(verifies(keys, NAME, '2.0.0', v2.integrity, r.body.time['2.0.0'], oldOverNew), false);
    });

    it('migration 014 signs the versions published before it, and moves their packuments on', async () => {
      // Back to the state before 014: no keys table, no signatures column. The migration's own step is run again
      // (not the migrator, which refuses to re-run 014 once later migrations have run, as it should).
      const db = t.deps.database.db;
      await db.schema.dropTable('registry_signing_keys').execute();
      await db.schema.alterTable('npm_metadata').dropColumn('signatures').execute();
      const { project, group } = levels();
      const before = await t.call('GET', `${project}/${esc(NAME)}`);
      const groupBefore = await t.call('GET', `${group}/${esc(NAME)}`);

      await migration014(t.deps.database.dialect).up(db);
      const keys = await keysAt(project);
      assert.equal(keys.length, 1, 'one new key, made by the migration');
      for (const [base, earlier] of [[project, before], [group, groupBefore]] as const) {
        const r = await t.call('GET', `${base}/${esc(NAME)}`);
        assert.notEqual(r.headers.etag, earlier.headers.etag, `${base}: a new revision, so no client keeps the unsigned document`);
        for (const version of ['1.0.0', '2.0.0']) {
          const { integrity, signatures } = r.body.versions[version].dist as { integrity: string; signatures: Signature[] };
          assert.equal(signatures.length, 1);
          assert.equal(signatures[0]!.keyid, keys[0]!.keyid);
          assert.ok(verifies(keys, NAME, version, integrity, r.body.time[version], signatures[0]!), `${base} ${version}`);
        }
      }
    });

    it('a negative or fractional overlap is refused', async () => {
      await assert.rejects(() => t.deps.services.npm.signingKeys.rotate(-1, contextOf(undefined)), RangeError);
      await assert.rejects(() => t.deps.services.npm.signingKeys.rotate(0.5, contextOf(undefined)), RangeError);
    });
  });
}
