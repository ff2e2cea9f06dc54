/** The npm registry's services, wired from the shared storage the composition root opened. */
import type { Kysely } from 'kysely';
import type { ProtectionService } from '../protection.service.js';
import type { PackageNamesService } from '../package-names.service.js';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import type { ChangeSignal } from '../../storage/db/change-signal.js';
import type { Database } from '../../storage/db/schema.js';
import { NamespacesRepository } from '../../storage/db/repositories/namespaces.repository.js';
import { PackageDeletionRepository } from '../../storage/db/repositories/package-deletion.repository.js';
import { PackageDocumentsRepository } from '../../storage/db/repositories/package-documents.repository.js';
import { DocumentRevisionsRepository } from '../../storage/db/repositories/document-revisions.repository.js';
import { DocumentRevisions } from '../documents/revisions.js';
import { PackagesRepository } from '../../storage/db/repositories/packages.repository.js';
import type { AccessService } from '../access.service.js';
import type { SettingsService } from '../settings.service.js';
import type { TokensService } from '../tokens.service.js';
import type { UsersService } from '../users.service.js';
import type { AuditService } from '../audit.service.js';
import { NpmAuditForwardingService } from './audit-forwarding.service.js';
import { NpmLoginService } from './login.service.js';
import { NpmMetadataService } from './metadata.service.js';
import { NpmNamespaceService } from './namespace.service.js';
import { NpmPublishService } from './publish.service.js';
import { NpmSearchService } from './search.service.js';
import { NpmTagsService } from './tags.service.js';
import { NpmUnpublishService } from './unpublish.service.js';

export interface NpmServices {
  metadata: NpmMetadataService;
  publish: NpmPublishService;
  tags: NpmTagsService;
  namespaces: NpmNamespaceService;
  unpublish: NpmUnpublishService;
  search: NpmSearchService;
  login: NpmLoginService;
  auditForwarding: NpmAuditForwardingService;
}

export interface NpmServicesDeps {
  db: Kysely<Database>;
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
}

export function buildNpmServices({ db, blobs, settings, clock, config, access, users, tokens, changes, protection, names, audit }: NpmServicesDeps): NpmServices {
  const packages = new PackagesRepository();
  const documents = new PackageDocumentsRepository();
  const revisions = new DocumentRevisions({ db, store: new DocumentRevisionsRepository(), changes });
  const namespaces = new NamespacesRepository();
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
    publish: new NpmPublishService({ db, packages, revisions, namespaces, settings, blobs, clock, protection, names }),
    tags: new NpmTagsService({ db, packages, revisions, clock, protection }),
    namespaces: new NpmNamespaceService({ db, packages, namespaces, access, metadata }),
    unpublish: new NpmUnpublishService({ db, packages, revisions, deletion: new PackageDeletionRepository(), clock, protection, audit }),
    search: new NpmSearchService({ db, packages, access, clock }),
    login: new NpmLoginService({ users, tokens, clock, audit }),
    auditForwarding: new NpmAuditForwardingService({ db, packages, namespaces }),
  };
}
