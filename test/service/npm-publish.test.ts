/**
 * `npm publish` and `npm deprecate` in `NpmPublishService` against memory ports: what a publish writes, when a
 * version that exists already is a retry (200, nothing written) or a refusal, the checks that refuse before any
 * row is written (protection, size, the naming convention, another project owning the name), the race two
 * publishes of one version settle on the unique index, and deprecation. npm-publish and npm-commands
 * (integration) show the same through HTTP on both databases.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { AppError, errors } from '../../src/domain/errors.js';
import { revString } from '../../src/domain/npm/packument.js';
import type { PackageRow, PackageType } from '../../src/domain/records.js';
import type { Executor } from '../../src/services/ports.js';
import { NpmPublishService, type NpmPackageNamesPort } from '../../src/services/npm/publish.service.js';
import { SigningKeysService } from '../../src/services/npm/signing-keys.service.js';
import { DEFAULT_SETTINGS } from '../../src/services/settings.service.js';
import { publishBody, type PublishOptions } from '../helpers/npm.js';
import { FixedClock, MemoryBlobs, MemoryNpmStore, MemoryProtection, MemorySigningKeys, developer, group, memoryRevisions, project, writer } from '../helpers/npm-memory-ports.js';
import { refused } from '../helpers/refusals.js';

const ROOT = 1;
const web = project(10, 'acme/web', ROOT);
const api = project(11, 'acme/api', ROOT);
const NAME = '@acme/lib';

type Claim = Parameters<NpmPackageNamesPort['claim']>[1];

/** Name ownership per top-level namespace: the first project to claim a name owns it (unless `shared`). */
class MemoryNames implements NpmPackageNamesPort {
  readonly owners = new Map<string, number>();
  /** `npm_package_names_shared_across_projects`: nothing is claimed. */
  shared = false;
  async prepare(use: { project: { id: number }; type: PackageType; name: string }): Promise<Claim | undefined> {
    if (this.shared) return undefined;
    return { key: { rootNamespaceId: ROOT, type: use.type, name: use.name }, projectId: use.project.id, shared: false };
  }
  async claim(_trx: Executor, prepared: Claim, _now: string): Promise<number | undefined> {
    const owner = this.owners.get(prepared.key.name.toLowerCase());
    if (owner !== undefined && owner !== prepared.projectId) return owner;
    this.owners.set(prepared.key.name.toLowerCase(), prepared.projectId);
    return undefined;
  }
  async refusal(use: { name: string }, owner: number): Promise<AppError> {
    return errors.packageNameOwned(use.name, `project ${owner}`, 'acme');
  }
}

describe('npm publish (service tier)', () => {
  let store: MemoryNpmStore;
  let protection: MemoryProtection;
  let blobs: MemoryBlobs;
  let names: MemoryNames;
  let maxSize: number;

  const build = (s: MemoryNpmStore) =>
    new NpmPublishService({
      db: s.db,
      packages: s,
      revisions: memoryRevisions(s),
      namespaces: s,
      settings: { get: async () => ({ ...DEFAULT_SETTINGS, npm_max_file_size: maxSize }) },
      blobs,
      clock: new FixedClock(),
      protection,
      names,
      signing: new SigningKeysService({ db: s.db, keys: signingKeys, clock: new FixedClock(), audit: { record: async () => {} } }),
      // Provenance is tested through HTTP (integration/npm-provenance.test.ts); these bodies carry none.
      attestations: { insert: async () => assert.fail('no provenance was sent'), ofPackage: async () => undefined },
    });
  let signingKeys: MemorySigningKeys;
  let service: NpmPublishService;

  const input = (version: string, opts: PublishOptions = {}, into = web, name = NAME) => ({
    ...writer(developer, into, ROOT),
    urlName: name,
    body: publishBody(name, version, opts).body,
  });
  const rowCount = () => store.t.packages.length + store.t.files.length + store.t.metadata.length + store.t.tags.length;

  beforeEach(() => {
    store = new MemoryNpmStore();
    store.t.namespaces.push(group(ROOT, 'acme'));
    store.projectRoots.set(web.id, ROOT).set(api.id, ROOT);
    protection = new MemoryProtection();
    blobs = new MemoryBlobs();
    names = new MemoryNames();
    maxSize = DEFAULT_SETTINGS.npm_max_file_size;
    signingKeys = new MemorySigningKeys();
    service = build(store);
  });

  it('writes the version, its file, metadata and dist-tag in one transaction, and moves the revision', async () => {
    const { body, tgz } = publishBody(NAME, '1.0.0', { tag: 'beta', readme: '# lib' });
    const result = await service.publish({ ...writer(developer, web, ROOT), urlName: NAME, body });
    assert.equal(result.created, true);
    assert.equal(result.package.version, '1.0.0');
    assert.equal(result.package.status, 'default');
    const [file] = store.t.files;
    assert.equal(file!.file_name, `${NAME}-1.0.0.tgz`);
    assert.equal(file!.size, tgz.length);
    assert.deepEqual(blobs.blobs.get(file!.blob_key), tgz, 'the exact uploaded bytes, under their SHA-256');
    const [meta] = store.t.metadata;
    assert.equal(meta!.publisher, 'dev');
    assert.equal(meta!.readme, '# lib');
    assert.equal((JSON.parse(meta!.package_json) as { name: string }).name, NAME);
    assert.deepEqual(store.tagMap(web.id, NAME), { beta: '1.0.0' });
    assert.equal(store.revisionOf(web.id, NAME), 1);
    assert.equal(store.transactions, 1);
    assert.deepEqual(
      protection.calls.map((c) => c.inTransaction),
      [false, true],
      'protection is asked early, and again where the rows are written',
    );
    assert.equal(await service.currentRev(web.id, NAME), revString(`${web.id}/${NAME}`, 1));
    // Signed once, here, with the active key, over what pacote verifies (docs/design/registry-signatures.md).
    const [signature, ...more] = JSON.parse(meta!.signatures!) as Array<{ keyid: string; sig: string }>;
    assert.equal(more.length, 0);
    const key = signingKeys.rows[0]!;
    assert.equal(signature!.keyid, key.keyid);
    const integrity = (JSON.parse(meta!.package_json) as { dist: { integrity: string } }).dist.integrity;
    const spki = createPublicKey({ key: Buffer.from(key.public_key, 'base64'), format: 'der', type: 'spki' });
    assert.equal(verify('sha256', Buffer.from(`${NAME}@1.0.0:${integrity}`), spki, Buffer.from(signature!.sig, 'base64')), true);
  });

  it('the same tarball again is a retry: 200 with the stored package, nothing written', async () => {
    const first = await service.publish(input('1.0.0'));
    const before = structuredClone(store.t);
    const again = await service.publish(input('1.0.0'));
    assert.deepEqual(again, { package: first.package, created: false });
    assert.deepEqual(store.t, before);
    assert.equal(store.transactions, 1);
  });

  it('the same version with other bytes is 403 Package already exists', async () => {
    await service.publish(input('1.0.0'));
    const rows = rowCount();
    const body = await refused(service.publish(input('1.0.0', { extra: { description: 'changed' } })), 'package_exists');
    assert.equal(body.error, 'Package already exists.');
    assert.equal(rowCount(), rows);
  });

  it('a retired version (unpublished) may be published again', async () => {
    const first = await service.publish(input('1.0.0'));
    await store.retirePackage(store.db, first.package, '2026-01-01T00:00:00.000Z');
    const again = await service.publish(input('1.0.0', { extra: { description: 'second life' } }));
    assert.equal(again.created, true);
    assert.notEqual(again.package.id, first.package.id);
  });

  it('a protected name is refused before the size check, any bytes stored or rows written', async () => {
    protection.protectedPush.add(NAME);
    maxSize = 1;
    await refused(service.publish(input('1.0.0')), 'package_protected');
    assert.equal(blobs.blobs.size, 0);
    assert.equal(rowCount(), 0);
  });

  it('a tarball over npm_max_file_size is refused with nothing stored', async () => {
    maxSize = 100;
    await refused(service.publish(input('1.0.0')), 'file_too_large');
    assert.equal(blobs.blobs.size, 0);
    assert.equal(rowCount(), 0);
  });

  it('under the naming convention, the same name and version in another project of the root is refused', async () => {
    names.shared = true;
    await service.publish(input('1.0.0', {}, api));
    const rows = rowCount();
    await refused(service.publish(input('1.0.0')), 'package_exists_in_namespace');
    assert.equal(rowCount(), rows);
    // Another version is fine, as is a name outside the convention (not under @acme).
    assert.equal((await service.publish(input('1.0.1'))).created, true);
    await service.publish(input('1.0.0', {}, api, '@other/lib'));
    assert.equal((await service.publish(input('1.0.0', {}, web, '@other/lib'))).created, true);
  });

  it('a name another project of the root owns is refused inside the transaction, with no row written', async () => {
    names.owners.set(NAME.toLowerCase(), api.id);
    await refused(service.publish(input('2.0.0')), 'package_name_owned');
    assert.equal(rowCount(), 0);
    assert.equal(store.revisionOf(web.id, NAME), undefined);
  });

  it('two publishes of one version race on the unique index: the loser reads the winner (a retry when the bytes match)', async () => {
    const winner = await service.publish(input('1.0.0'));
    // The loser checked for the version before the winner committed.
    class Late extends MemoryNpmStore {
      #first = true;
      override async findActive(db: Executor, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined> {
        if (this.#first) {
          this.#first = false;
          return undefined;
        }
        return super.findActive(db, projectId, type, name, version);
      }
    }
    const late = new Late();
    late.t = structuredClone(store.t);
    late.projectRoots = store.projectRoots;
    const loser = build(late);
    assert.deepEqual(await loser.publish(input('1.0.0')), { package: winner.package, created: false });
    assert.deepEqual(late.t.packages, store.t.packages, 'the losing transaction left nothing');
  });

  describe('deprecate', () => {
    beforeEach(async () => {
      await service.publish(input('1.0.0'));
      await service.publish(input('1.1.0'));
    });
    const caller = writer(developer, web, ROOT);
    const status = () => store.t.packages.map((p) => `${p.version}:${p.status}`);
    const message = (version: string) => (JSON.parse(store.t.metadata.find((m) => store.t.packages.find((p) => p.id === m.package_id)!.version === version)!.package_json) as { deprecated?: string }).deprecated;

    it('sets the message on the listed versions that exist, and moves the revision once', async () => {
      const before = store.revisionOf(web.id, NAME)!;
      const result = await service.deprecate(caller, NAME, { versions: { '1.0.0': { deprecated: 'use 1.1' }, '9.9.9': { deprecated: 'x' } } });
      assert.deepEqual(result, { changed: ['1.0.0'] });
      assert.deepEqual(status(), ['1.0.0:deprecated', '1.1.0:default']);
      assert.equal(message('1.0.0'), 'use 1.1');
      assert.equal(store.revisionOf(web.id, NAME), before + 1);
    });

    it('an empty message removes the deprecation; an unchanged one changes nothing, not even the revision', async () => {
      await service.deprecate(caller, NAME, { versions: { '1.0.0': { deprecated: 'old' } } });
      const before = store.revisionOf(web.id, NAME)!;
      assert.deepEqual(await service.deprecate(caller, NAME, { versions: { '1.0.0': { deprecated: 'old' } } }), { changed: [] });
      assert.equal(store.revisionOf(web.id, NAME), before);
      assert.deepEqual(await service.deprecate(caller, NAME, { versions: { '1.0.0': { deprecated: '' } } }), { changed: ['1.0.0'] });
      assert.deepEqual(status(), ['1.0.0:default', '1.1.0:default']);
      assert.equal(message('1.0.0'), undefined);
    });

    it('a body without deprecations is 400; a protected name is 403 and changes nothing', async () => {
      await refused(service.deprecate(caller, NAME, { versions: { '1.0.0': {} } }), 'attribute_missing');
      protection.protectedPush.add(NAME);
      await refused(service.deprecate(caller, NAME, { versions: { '1.0.0': { deprecated: 'x' } } }), 'package_protected');
      assert.deepEqual(status(), ['1.0.0:default', '1.1.0:default']);
    });
  });
});
