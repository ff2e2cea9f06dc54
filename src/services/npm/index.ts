/**
 * The npm registry's services, built from the ports they declare; `compose.ts` hands in the implementations (the
 * repositories and the document revisions) and the services they share with the rest of Wharf.
 */
import type { ProtectionService } from '../protection.service.js';
import type { PackageNamesService } from '../package-names.service.js';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import type { ChangeSignal, Connection, Executor } from '../ports.js';
import type { DocumentRevisions } from '../documents/revisions.js';
import type { AccessService } from '../access.service.js';
import type { SettingsService } from '../settings.service.js';
import type { TokensService } from '../tokens.service.js';
import type { UsersService } from '../users.service.js';
import type { AuditService } from '../audit.service.js';
import { NpmAuditForwardingService, type AuditNamespacesPort, type AuditPackagesPort } from './audit-forwarding.service.js';
import { NpmAttestationsService, type NpmAttestationsPort } from './attestations.service.js';
import { NpmLoginService } from './login.service.js';
import { NpmMetadataService, type PackumentSourcePort, type PackumentStorePort } from './metadata.service.js';
import { NpmNamespaceService, type NpmScopeNamespacesPort, type NpmTreePackagesPort } from './namespace.service.js';
import { NpmPublishService, type NpmPublishNamespacesPort, type NpmPublishPackagesPort } from './publish.service.js';
import { NpmSearchService, type NpmSearchPackagesPort } from './search.service.js';
import { NpmTagsService, type NpmTagsPackagesPort } from './tags.service.js';
import { NpmUnpublishService, type NpmDeletionPort, type NpmUnpublishPackagesPort } from './unpublish.service.js';
import { NpmProxyService } from './proxy/proxy.service.js';
import type { NpmProxyCacheAdminPort, NpmProxyCachePort } from './proxy/ports.js';
import { NpmProxyCacheService } from './proxy/cache.service.js';
import { VERSION } from '../../version.js';
import { SigningKeysService, type SigningKeysPort } from './signing-keys.service.js';

export interface NpmServices {
  metadata: NpmMetadataService;
  publish: NpmPublishService;
  tags: NpmTagsService;
  namespaces: NpmNamespaceService;
  unpublish: NpmUnpublishService;
  search: NpmSearchService;
  login: NpmLoginService;
  proxy: NpmProxyService;
  /** The proxy cache's administration (list, stats, purge) and `gc`'s eviction. */
  proxyAdmin: NpmProxyCacheService;
  auditForwarding: NpmAuditForwardingService;
  /** The registry's signing keys: signs at publish, lists `/-/npm/v1/keys`, rotates. */
  signingKeys: SigningKeysService;
  /** Provenance bundles published with versions (docs/design/npm-provenance.md). */
  attestations: NpmAttestationsService;
}

/** The package rows as every npm service reads and writes them (`PackagesRepository`). */
export type NpmPackagesPort = PackumentSourcePort &
  NpmTreePackagesPort &
  NpmSearchPackagesPort &
  NpmTagsPackagesPort &
  NpmPublishPackagesPort &
  NpmUnpublishPackagesPort &
  AuditPackagesPort;

export interface NpmServicesDeps {
  db: Connection & Executor;
  packages: NpmPackagesPort;
  /** Built packuments kept for every process (`PackageDocumentsRepository`). */
  documents: PackumentStorePort;
  /** The packuments' revisions (the invalidation rule, `../documents/revisions.ts`). */
  revisions: DocumentRevisions;
  namespaces: NpmScopeNamespacesPort & NpmPublishNamespacesPort & AuditNamespacesPort;
  deletion: NpmDeletionPort;
  /** Provenance bundles linked to versions (`NpmAttestationsRepository`). */
  attestations: NpmAttestationsPort;
  blobs: BlobStore;
  settings: SettingsService;
  clock: Clock;
  config: Config;
  access: AccessService;
  users: UsersService;
  tokens: TokensService;
  changes: ChangeSignal;
  protection: ProtectionService;
  names: PackageNamesService;
  audit: AuditService;
  /** The npm proxy's cache rows and leases. */
  proxyCache: NpmProxyCachePort & NpmProxyCacheAdminPort;
  /** Replaces the global fetch for the proxy's upstream requests (tests). */
  proxyFetch?: typeof fetch;
  /** PostgreSQL, which several instances may share (the proxy then coordinates its fetches through it). */
  sharedDatabase: boolean;
  /** The `registry_signing_keys` rows. */
  signingKeys: SigningKeysPort;
}

export function buildNpmServices(deps: NpmServicesDeps): NpmServices {
  const { db, packages, documents, revisions, namespaces, deletion, attestations, blobs, settings, clock, config, access, users, tokens, changes, protection, names, audit, proxyCache, proxyFetch, sharedDatabase } = deps;
  const signingKeys = new SigningKeysService({ db, keys: deps.signingKeys, clock, audit });
  const metadata = new NpmMetadataService({
    db,
    packages,
    documents,
    revisions,
    blobs,
    externalUrl: config.externalUrl,
    changes,
    directDownloadSeconds: config.blobStore.kind === 's3' && config.blobStore.directDownload ? config.blobStore.directDownloadExpirySeconds : undefined,
  });
  return {
    metadata,
    publish: new NpmPublishService({ db, packages, revisions, namespaces, settings, blobs, clock, protection, names, attestations, signing: signingKeys }),
    tags: new NpmTagsService({ db, packages, revisions, clock, protection }),
    namespaces: new NpmNamespaceService({ db, packages, namespaces, access, metadata }),
    unpublish: new NpmUnpublishService({ db, packages, revisions, deletion, clock, protection, audit }),
    search: new NpmSearchService({ db, packages, access, clock }),
    login: new NpmLoginService({ users, tokens, clock, audit }),
    proxy: new NpmProxyService({
      db,
      store: proxyCache,
      blobs,
      clock,
      changes,
      sharedDatabase,
      settings,
      localScopes: async (scope) => (await namespaces.findTopLevelByPath(db, scope)) !== undefined,
      localNames: async (name) => (await packages.npmNamesAmong(db, [name])).length > 0,
      externalUrl: config.externalUrl,
      userAgent: `wharf/${VERSION} (npm proxy)`,
      ...(proxyFetch ? { fetch: proxyFetch } : {}),
    }),
    proxyAdmin: new NpmProxyCacheService({ db, store: proxyCache, settings, clock, audit }),
    auditForwarding: new NpmAuditForwardingService({ db, packages, namespaces }),
    signingKeys,
    attestations: new NpmAttestationsService({ db, attestations, blobs }),
  };
}
