/**
 * `npm publish` and `npm deprecate` (both `PUT P/:package_name`, told apart by the `npm-command` header).
 *
 * Publish runs GitLab's checks in GitLab's order (docs/design/gitlab-compatibility.md#publish-checks), synchronously, then the stricter ones
 * GitLab leaves to a background job or skips (attachment digests, tarball safety and coherence). Only then are
 * the exact uploaded bytes written to the blob store, and the rows committed in one transaction under the
 * database's uniqueness rules: a refused publish leaves nothing visible, an acknowledged one is complete.
 */
import { createHash } from 'node:crypto';
import type { ProjectAccessContext } from '../../domain/access/abilities.js';
import { actorName, type Identity } from '../../domain/access/identity.js';
import type { NameUse, PreparedClaim } from '../package-names.service.js';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors, type AppError } from '../../domain/errors.js';
import { followsNamingConvention } from '../../domain/npm/names.js';
import {
  checkManifestCoherence,
  decodeAttachment,
  decodedSizeOf,
  digestsOf,
  integrityOf,
  isPlainObject,
  readPublishDocument,
  storedVersion,
  validatePublishDocument,
  verifyAttachment,
  type PublishDocument,
} from '../../domain/npm/publish.js';
import { revString } from '../../domain/npm/packument.js';
import { checkProvenanceBundle, provenanceAttachment } from '../../domain/npm/provenance.js';
import { inspectNpmTarball, type NpmTarballLimits } from '../../archive/npm-tarball.js';
import type { BlobStore } from '../blob-store.js';
import type { NamespaceRow, NpmMetadataRow, PackageFileRow, PackageRow, PackageStatus, PackageType, ProjectRow } from '../../domain/records.js';
import type { Connection, Executor, UniqueViolations } from '../ports.js';
import { packumentKey, type DocumentRevisions } from '../documents/revisions.js';
import type { SettingsService } from '../settings.service.js';
import type { NpmProtectionPort, NpmTagWritesPort } from './ports.js';
import type { SigningKeysService } from './signing-keys.service.js';
import type { NpmAttestationsPort } from './attestations.service.js';

/** What publish and deprecate read and write of the packages (`PackagesRepository`). */
export interface NpmPublishPackagesPort extends NpmTagWritesPort, UniqueViolations {
  /** The version as the duplicate checks see it: anything but `pending_destruction` counts. */
  findActive(db: Executor, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined>;
  findInstallable(db: Executor, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined>;
  /** Does a live package of this name and version exist in another project under the same root namespace? */
  existsElsewhereInRoot(db: Executor, rootNamespaceId: number, projectId: number, type: PackageType, name: string, version: string): Promise<boolean>;
  /** The newest installable file of a package. */
  newestFile(db: Executor, packageId: number): Promise<PackageFileRow | undefined>;
  insertPackage(db: Executor, row: Omit<PackageRow, 'id'>): Promise<PackageRow>;
  insertFile(db: Executor, row: Omit<PackageFileRow, 'id'>): Promise<PackageFileRow>;
  insertNpmMetadata(db: Executor, row: NpmMetadataRow): Promise<void>;
  npmMetadata(db: Executor, packageId: number): Promise<NpmMetadataRow | undefined>;
  updateNpmPackageJson(db: Executor, packageId: number, packageJson: string): Promise<void>;
  updatePackage(db: Executor, id: number, patch: { status?: PackageStatus; updated_at: string }): Promise<void>;
}

/** The root namespace of the naming convention (`NamespacesRepository`). */
export interface NpmPublishNamespacesPort {
  findById(db: Executor, id: number): Promise<NamespaceRow | undefined>;
}

/** Who owns a package name in a top-level namespace (`PackageNamesService`): prepared before, claimed inside the write. */
export interface NpmPackageNamesPort {
  prepare(use: NameUse): Promise<PreparedClaim | undefined>;
  /** The owning project's id when another project owns the name; undefined when the claim holds. */
  claim(trx: Executor, prepared: PreparedClaim, now: string): Promise<number | undefined>;
  refusal(use: NameUse, ownerProjectId: number): Promise<AppError>;
}

export interface NpmPublishServiceDeps {
  db: Connection & Executor;
  packages: NpmPublishPackagesPort;
  /** The packument's revision moves with every publish and deprecation, in its transaction. */
  revisions: Pick<DocumentRevisions, 'changed' | 'packumentState'>;
  namespaces: NpmPublishNamespacesPort;
  settings: Pick<SettingsService, 'get'>;
  /** Publish only writes bytes (downloads are the metadata service's). */
  blobs: Pick<BlobStore, 'put'>;
  clock: Clock;
  protection: NpmProtectionPort;
  names: NpmPackageNamesPort;
  /** Signs each version once, here (docs/design/registry-signatures.md). */
  signing: Pick<SigningKeysService, 'sign'>;
  /** Where a provenance bundle sent with the version is linked to it (docs/design/npm-provenance.md). */
  attestations: Pick<NpmAttestationsPort, 'insert' | 'ofPackage'>;
  tarballLimits?: NpmTarballLimits;
}

export interface PublishInput {
  identity: Identity;
  project: ProjectRow;
  ctx: ProjectAccessContext;
  /** The decoded `:package_name` of the URL. */
  urlName: string;
  body: unknown;
}

export interface PublishResult {
  package: PackageRow;
  /** True when this request created the version; false for an identical retry of an earlier publish. */
  created: boolean;
}

const publisherOf = (identity: Identity): string | null => (identity.kind === 'anonymous' ? null : actorName(identity));

export class NpmPublishService {
  readonly #d: NpmPublishServiceDeps;
  constructor(deps: NpmPublishServiceDeps) {
    this.#d = deps;
  }

  async publish(input: PublishInput): Promise<PublishResult> {
    const { db, packages, revisions, namespaces, settings, blobs, clock } = this.#d;
    const { project, ctx, identity } = input;

    // GitLab 0b, 2, 3: the document's shape, one version, its attachment.
    const doc = readPublishDocument(input.body);

    // 4: the version must not exist yet — unless this is the same tarball again (a retry after a lost response).
    const existing = await packages.findActive(db, project.id, 'npm', doc.name, doc.version);
    if (existing) return this.#retryOrRefuse(existing, doc, input.body);

    // 5: no protection rule may keep this caller from pushing the name (asked again where the rows are written).
    const write = { action: 'push', identity, project, ctx, type: 'npm', name: doc.name, surface: 'npm' } as const;
    await this.#d.protection.require(write);
    // 5b, Wharf's: the name must not belong to another project of the top-level namespace (package-names.service.ts).
    const claim = await this.#d.names.prepare(write);

    // 6: the size, computed from the Base64 text as GitLab does.
    const { npm_max_file_size: maxSize } = await settings.get();
    if (decodedSizeOf(doc.attachmentData) > maxSize) throw errors.npmFileTooLarge();

    // 8a–8e: the model validations, with Wharf's name-consistency rule.
    validatePublishDocument(doc, input.urlName);
    const rootId = ctx.namespaceIds[0];
    const root = rootId !== undefined ? await namespaces.findById(db, rootId) : undefined;
    if (root && followsNamingConvention(doc.name, root.path)) {
      if (await packages.existsElsewhereInRoot(db, root.id, project.id, 'npm', doc.name, doc.version)) {
        throw errors.npmPackageExistsInNamespace();
      }
    }

    // Beyond GitLab: the bytes must be what the body says they are, and a tarball npm can install safely.
    const bytes = decodeAttachment(doc.attachmentData);
    const digests = digestsOf(bytes);
    verifyAttachment(doc, bytes, digests);
    const inspection = await inspectNpmTarball(bytes, this.#d.tarballLimits);
    checkManifestCoherence(doc, inspection);
    // The install-relevant fields come from the tarball's own package.json, not the body (docs/design/npm-manifests.md).
    const stored = storedVersion(doc, { digests, fileCount: inspection.fileCount, unpackedSize: inspection.unpackedSize, tarball: inspection });
    // `npm publish --provenance`: the bundle must sign exactly this tarball (docs/design/npm-provenance.md).
    const attachment = provenanceAttachment(input.body, doc.name, doc.version);
    const provenance = attachment && checkProvenanceBundle(attachment, { name: doc.name, version: doc.version, sha512Hex: digests.sha512 });
    // The packument's `dist.attestations` without its URL, which depends on the endpoint (`domain/npm/packument.ts`).
    if (provenance) (stored.dist as Record<string, unknown>).attestations = { provenance: { predicateType: provenance.predicateType } };
    const packageJson = JSON.stringify(stored);

    // Blob first: a crash after this leaves an unreferenced blob for `gc`, never a row without bytes.
    await blobs.put(bytes, { expectedSha256: digests.sha256 });
    const bundleBlob = provenance && (await blobs.put(provenance.bytes));

    const now = iso(clock.now());
    // After `now`: the version's time is then never past the signing key's expiry (signing-keys.service.ts).
    const signatures = JSON.stringify(await this.#d.signing.sign(db, doc.name, doc.version, integrityOf(digests.sha512)));
    try {
      const outcome = await db.transaction().execute(async (trx) => {
        await this.#d.protection.require(write, trx);
        const ownedBy = claim && (await this.#d.names.claim(trx, claim, now));
        if (ownedBy !== undefined) return { ownedBy };
        const row = await packages.insertPackage(trx, {
          project_id: project.id,
          package_type: 'npm',
          name: doc.name,
          version: doc.version,
          status: 'default',
          creator_id: identity.kind === 'user' ? identity.userId : null,
          created_at: now,
          updated_at: now,
        });
        await packages.insertFile(trx, {
          package_id: row.id,
          file_name: doc.attachmentKey,
          size: bytes.length,
          sha1: digests.sha1,
          sha256: digests.sha256,
          sha512: digests.sha512,
          blob_key: digests.sha256,
          channel: null,
          status: 'default',
          created_at: now,
        });
        await packages.insertNpmMetadata(trx, {
          package_id: row.id,
          package_json: packageJson,
          readme: doc.readme ?? null,
          readme_filename: doc.readmeFilename ?? null,
          publisher: publisherOf(identity),
          signatures,
          trusted_publisher: identity.kind === 'trusted_publisher' ? identity.record : null,
        });
        if (provenance && bundleBlob) {
          await this.#d.attestations.insert(trx, {
            package_id: row.id,
            predicate_type: provenance.predicateType,
            blob_key: bundleBlob.sha256,
            size: bundleBlob.size,
            build_source: provenance.origin.source ?? null,
            build_run: provenance.origin.run ?? null,
            created_at: now,
          });
        }
        await packages.upsertTag(trx, project.id, doc.name, doc.distTag, row.id, now);
        await revisions.changed(trx, packumentKey(project.id, doc.name), now);
        return { row };
      });
      if (outcome.ownedBy !== undefined) throw await this.#d.names.refusal(write, outcome.ownedBy);
      return { package: outcome.row, created: true };
    } catch (err) {
      // Lost a race with a concurrent publish of the same version: the unique index decided who won.
      if (!packages.isUniqueViolation(err)) throw err;
      const winner = await packages.findActive(db, project.id, 'npm', doc.name, doc.version);
      if (!winner) throw err;
      return this.#retryOrRefuse(winner, doc, input.body);
    }
  }

  /**
   * An existing version answers 200 when the upload is byte-for-byte the stored tarball (npm re-PUTs after a
   * timeout or 5xx, docs/design/client-protocols.md#npm-errors-and-retries), and GitLab's 403 otherwise.
   */
  async #retryOrRefuse(existing: PackageRow, doc: PublishDocument, body: unknown): Promise<PublishResult> {
    const file = await this.#d.packages.newestFile(this.#d.db, existing.id);
    let same = false;
    if (file) {
      try {
        same = digestsOf(decodeAttachment(doc.attachmentData)).sha512 === file.sha512;
      } catch {
        same = false;
      }
    }
    if (same) {
      // A retry is the same request: with the same provenance bundle, or none when none was stored. A bundle sent
      // for a version stored without it (or with another) must not look attached by a 200 (docs/design/npm-provenance.md).
      const bundle = provenanceAttachment(body, doc.name, doc.version);
      const stored = await this.#d.attestations.ofPackage(this.#d.db, existing.id);
      if (bundle !== undefined || stored !== undefined) {
        same = bundle !== undefined && stored !== undefined && createHash('sha256').update(bundle.data, 'utf8').digest('hex') === stored.blob_key;
      }
    }
    if (!same) throw errors.npmPackageExists();
    return { package: existing, created: false };
  }

  /**
   * `npm deprecate` / `npm undeprecate`: the body is the packument with `versions[v].deprecated` set on the
   * versions to change; an empty message removes the deprecation (docs/design/gitlab-compatibility.md#deprecation). Versions that do not exist
   * here are ignored; identical messages change nothing.
   *
   * A deprecation message is shown by every `npm install` of the version, and removing one hides a warning: it is a
   * push to the name as far as protection rules go.
   */
  async deprecate(caller: { identity: Identity; project: ProjectRow; ctx: ProjectAccessContext }, name: string, body: unknown): Promise<{ changed: string[] }> {
    const { db, packages, revisions, clock } = this.#d;
    const { project } = caller;
    const versions = isPlainObject(body) && isPlainObject(body.versions) ? body.versions : {};
    const requested = Object.entries(versions).flatMap(([version, data]) =>
      isPlainObject(data) && typeof data.deprecated === 'string' ? [{ version, message: data.deprecated }] : [],
    );
    if (requested.length === 0) throw errors.npmMissingAttribute('package versions to deprecate');

    const now = iso(clock.now());
    return db.transaction().execute(async (trx) => {
      await this.#d.protection.require({ action: 'push', ...caller, type: 'npm', name, surface: 'npm' }, trx);
      const changed: string[] = [];
      for (const { version, message } of requested) {
        const pkg = await packages.findInstallable(trx, project.id, 'npm', name, version);
        if (!pkg) continue;
        const meta = await packages.npmMetadata(trx, pkg.id);
        if (!meta) continue;
        const json = JSON.parse(meta.package_json) as Record<string, unknown>;
        const current = typeof json.deprecated === 'string' ? json.deprecated : '';
        if (current === message) continue;
        if (message === '') delete json.deprecated;
        else json.deprecated = message;
        await packages.updateNpmPackageJson(trx, pkg.id, JSON.stringify(json));
        await packages.updatePackage(trx, pkg.id, { status: message === '' ? 'default' : 'deprecated', updated_at: now });
        changed.push(version);
      }
      if (changed.length) await revisions.changed(trx, packumentKey(project.id, name), now);
      return { changed };
    });
  }

  /** The `_rev` a client sees for this package right now (answered after writes, as CouchDB registries do). */
  async currentRev(projectId: number, name: string): Promise<string | undefined> {
    const state = await this.#d.revisions.packumentState(packumentKey(projectId, name), this.#d.db);
    return state ? revString(`${projectId}/${name}`, state.revision) : undefined;
  }
}
