/**
 * The composition root: the only module that knows which implementations are in use. It opens the database
 * (SQLite or PostgreSQL), builds the repositories and services, and hands them to `buildApp` and the CLI.
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { BlobStore } from './services/blob-store.js';
import { FsBlobStore } from './storage/blobs/fs-blob-store.js';
import { CachingBlobStore } from './storage/blobs/caching-blob-store.js';
import type { Config } from './config/config.js';
import type { Deps as AppDeps, Services } from './app-deps.js';
import { systemClock, type Clock } from './domain/clock.js';
import { openDatabase, type DatabaseHandle, type DialectName } from './storage/db/database.js';
import { migrateToLatest } from './storage/db/migrate.js';
import type { ChangeSignal } from './storage/db/change-signal.js';
import type { Database } from './storage/db/schema.js';
import { MembersRepository } from './storage/db/repositories/members.repository.js';
import { NamespacesRepository } from './storage/db/repositories/namespaces.repository.js';
import { ProjectsRepository } from './storage/db/repositories/projects.repository.js';
import { SettingsRepository } from './storage/db/repositories/settings.repository.js';
import { TokensRepository } from './storage/db/repositories/tokens.repository.js';
import { UsersRepository } from './storage/db/repositories/users.repository.js';
import { AccessService } from './services/access.service.js';
import { BootstrapService } from './services/bootstrap.service.js';
import { GroupsService } from './services/groups.service.js';
import { IdentityService } from './services/identity.service.js';
import { DatabaseCredentialEpoch } from './storage/db/credential-epoch.js';
import { SignInThrottle } from './services/sign-in-throttle.js';
import { SignInFailuresRepository } from './storage/db/repositories/sign-in-failures.repository.js';
import { MembersService } from './services/members.service.js';
import { ProjectsService } from './services/projects.service.js';
import { SettingsService } from './services/settings.service.js';
import { TokensService } from './services/tokens.service.js';
import { UsersService } from './services/users.service.js';
import { buildNpmServices } from './services/npm/index.js';
import { buildHelmServices, type HelmServices, type HelmServicesDeps } from './services/helm/index.js';
import { HelmRepository } from './storage/db/repositories/helm.repository.js';
import { OciRepository } from './storage/db/repositories/oci.repository.js';
import { buildOciServices } from './services/oci/index.js';
import { SessionsService } from './services/sessions.service.js';
import { PackagesService } from './services/packages.service.js';
import { PackageListingRepository } from './storage/db/repositories/package-listing.repository.js';
import { PackageDeletionRepository } from './storage/db/repositories/package-deletion.repository.js';
import { NpmAttestationsRepository } from './storage/db/repositories/npm-attestations.repository.js';
import { DocumentRevisionsRepository } from './storage/db/repositories/document-revisions.repository.js';
import { PackagesRepository } from './storage/db/repositories/packages.repository.js';
import { PackageDocumentsRepository } from './storage/db/repositories/package-documents.repository.js';
import { DocumentRevisions } from './services/documents/revisions.js';
import { GcService } from './services/gc.service.js';
import { PackagePagesService } from './services/package-pages.service.js';
import { PackagePagesRepository } from './storage/db/repositories/package-pages.repository.js';
import { SessionsRepository } from './storage/db/repositories/sessions.repository.js';
import { ProtectionService } from './services/protection.service.js';
import { ProtectionRulesRepository } from './storage/db/repositories/protection-rules.repository.js';
import { AuditService } from './services/audit.service.js';
import { AuditEventsRepository } from './storage/db/repositories/audit-events.repository.js';
import { PackageNamesService } from './services/package-names.service.js';
import { PackageNameOwnersRepository } from './storage/db/repositories/package-name-owners.repository.js';
import { PingRepository } from './storage/db/repositories/ping.repository.js';
import { HealthService } from './services/health.service.js';
import { NpmProxyRepository } from './storage/db/repositories/npm-proxy.repository.js';
import { RegistryTokenService } from './services/registry-tokens.service.js';
import { RegistryTokenKeysRepository } from './storage/db/repositories/registry-token-keys.repository.js';
import { SigningKeysRepository } from './storage/db/repositories/signing-keys.repository.js';
import { TrustedPublishingService } from './services/trusted-publishing.service.js';
import { OidcKeys } from './services/oidc-keys.js';
import { TrustedPublishersRepository } from './storage/db/repositories/trusted-publishers.repository.js';

export type { Services };

/** Everything the process runs on: what the HTTP layer gets (`app-deps.ts`), plus the storage only the composition
 *  root, `app.ts` and the CLI handle. */
export interface Deps extends AppDeps {
  database: DatabaseHandle;
  blobs: BlobStore;
  /** Migrations this process applied at start-up (empty when another process had already done them). */
  appliedMigrations: string[];
}

/** What the package services need beyond the database: where bytes live, and the configuration (external URL,
 *  direct downloads). */
export interface ServiceStorage {
  blobs: BlobStore;
  config: Config;
  /** Lets hot reads skip the database while nothing was written (SQLite; see `change-signal.ts`). */
  changes: ChangeSignal;
  /** PostgreSQL can be shared by several instances; the embedded SQLite belongs to one. */
  dialect: DialectName;
}

/**
 * The Helm services on this database: their store and the channel revisions wired in. A second set built on the
 * same database behaves as another instance would (the tests of shared and rebuilt indexes do that).
 */
export function helmServices(deps: Omit<HelmServicesDeps, 'db' | 'helm' | 'revisions'> & { db: Kysely<Database> }): HelmServices {
  const { db, changes } = deps;
  const revisions = new DocumentRevisions({ db, store: new DocumentRevisionsRepository(), changes });
  return buildHelmServices({ ...deps, helm: new HelmRepository(), revisions });
}

export function buildServices(db: Kysely<Database>, clock: Clock, storage: ServiceStorage): Services {
  const users = new UsersRepository();
  const namespaces = new NamespacesRepository();
  const projects = new ProjectsRepository();
  const members = new MembersRepository();
  const tokens = new TokensRepository();
  const settingsRepo = new SettingsRepository();

  const { changes } = storage;
  const identity = new IdentityService({ db, tokens, users, clock, epoch: new DatabaseCredentialEpoch(db, changes) });
  const audit = new AuditService({ db, events: new AuditEventsRepository(), users, clock });
  const access = new AccessService({ db, projects, namespaces, members, clock, changes });
  const settings = new SettingsService(db, settingsRepo, changes, audit);
  const throttle = new SignInThrottle({ db, failures: new SignInFailuresRepository(), settings, clock });
  const usersService = new UsersService({ db, users, namespaces, members, clock, audit, throttle });
  const tokensService = new TokensService({ db, tokens, users, identity, clock, audit, settings });
  const deletion = new PackageDeletionRepository();
  const protection = new ProtectionService({ db, rules: new ProtectionRulesRepository(), access, clock, audit });
  const names = new PackageNamesService({ db, owners: new PackageNameOwnersRepository(), namespaces, access, settings });
  const ociRepository = new OciRepository(storage.dialect);
  const packages = new PackagesService({
    db,
    listing: new PackageListingRepository(),
    deletion,
    revisions: new DocumentRevisions({ db, store: new DocumentRevisionsRepository(), changes }),
    access,
    protection,
    blobs: storage.blobs,
    clock,
    audit,
  });
  const helm = helmServices({ db, settings, blobs: storage.blobs, clock, config: storage.config, changes, sharedDatabase: storage.dialect === 'postgres', protection, audit });
  const services: Services = {
    identity,
    access,
    users: usersService,
    groups: new GroupsService({ db, namespaces, members, access, clock }),
    projects: new ProjectsService({ db, projects, namespaces, users, access, clock }),
    members: new MembersService({ db, members, users, access, clock, audit }),
    tokens: tokensService,
    settings,
    bootstrap: new BootstrapService(usersService, tokensService),
    npm: buildNpmServices({
      db,
      packages: new PackagesRepository(),
      documents: new PackageDocumentsRepository(),
      revisions: new DocumentRevisions({ db, store: new DocumentRevisionsRepository(), changes }),
      namespaces,
      deletion,
      attestations: new NpmAttestationsRepository(),
      blobs: storage.blobs,
      settings,
      clock,
      config: storage.config,
      access,
      users: usersService,
      tokens: tokensService,
      changes,
      protection,
      names,
      audit,
      proxyCache: new NpmProxyRepository(),
      sharedDatabase: storage.dialect === 'postgres',
      signingKeys: new SigningKeysRepository(),
    }),
    helm,
    oci: buildOciServices({ db, oci: ociRepository, blobs: storage.blobs, settings, clock, charts: helm.upload, packages, protection, changes }),
    sessions: new SessionsService({ db, sessions: new SessionsRepository(), users, usersService, clock, audit }),
    packages,
    // The npm proxy cache's eviction runs first in every gc (built above, in `npm`).
    gc: new GcService(db, storage.blobs, deletion, clock, { audit, settings }, { evict: (o) => services.npm.proxyAdmin.evict(o) }, ociRepository),
    packagePages: new PackagePagesService(db, new PackagePagesRepository(), access, storage.blobs),
    protection,
    audit,
    health: new HealthService(new PingRepository(db)),
    registryTokens: new RegistryTokenService({ db, keys: new RegistryTokenKeysRepository(), access, identity, clock, externalUrl: storage.config.externalUrl }),
    trustedPublishing: new TrustedPublishingService({
      db,
      publishers: new TrustedPublishersRepository(),
      keys: new RegistryTokenKeysRepository(),
      oidcKeys: new OidcKeys(() => clock.now().getTime()),
      access,
      settings,
      audit,
      clock,
      externalUrl: storage.config.externalUrl,
    }),
  };
  return services;
}

export interface ComposeOptions {
  clock?: Clock;
  /** Run migrations (default true). */
  migrate?: boolean;
}

/** The configured blob store; the AWS SDK is imported only when S3 is configured. */
export async function openBlobStore(config: Config): Promise<BlobStore> {
  const b = config.blobStore;
  if (b.kind === 'fs') return new FsBlobStore(path.join(config.dataDir, 'blobs'));
  const { S3BlobStore } = await import('./storage/blobs/s3-blob-store.js');
  return new S3BlobStore({ ...b, spoolDir: path.join(config.dataDir, 'tmp', 's3-spool') });
}

/** Opens storage, migrates it under the migration lock, and wires every service. */
export async function compose(config: Config, options: ComposeOptions = {}): Promise<Deps> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let appliedMigrations: string[] = [];
  try {
    if (options.migrate !== false) appliedMigrations = (await migrateToLatest(database.db, database.dialect)).applied;
  } catch (err) {
    await database.close();
    throw err;
  }
  const clock = options.clock ?? systemClock;
  // Small tarballs and charts are served from memory after their first download.
  const blobs = new CachingBlobStore(await openBlobStore(config), { maxBlobBytes: 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 });
  return { config, database, blobs, services: buildServices(database.db, clock, { blobs, config, changes: database.changes, dialect: database.dialect }), clock, appliedMigrations };
}
