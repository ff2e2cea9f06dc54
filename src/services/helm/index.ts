/** The Helm chart repository's services, built together because they share one repository and one cache. */
import type { Kysely } from 'kysely';
import type { ProtectionService } from '../protection.service.js';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import { HelmRepository } from '../../storage/db/repositories/helm.repository.js';
import { DocumentRevisionsRepository } from '../../storage/db/repositories/document-revisions.repository.js';
import { DocumentRevisions } from '../documents/revisions.js';
import type { ChangeSignal } from '../../storage/db/change-signal.js';
import type { Database } from '../../storage/db/schema.js';
import type { AccessService } from '../access.service.js';
import type { SettingsService } from '../settings.service.js';
import type { AuditService } from '../audit.service.js';
import { HelmChartsService } from './charts.service.js';
import { HelmIndexService } from './index.service.js';
import { HelmUploadService } from './upload.service.js';

export interface HelmServices {
  index: HelmIndexService;
  upload: HelmUploadService;
  charts: HelmChartsService;
}

export interface HelmServicesDeps {
  db: Kysely<Database>;
  access: AccessService;
  settings: SettingsService;
  blobs: BlobStore;
  clock: Clock;
  /** `externalUrl` (its path prefixes `serverInfo.contextPath`) and the blob store's direct-download settings. */
  config: Config;
  changes: ChangeSignal;
  /** Several instances share the database (PostgreSQL): built indexes are stored there for the others. */
  sharedDatabase: boolean;
  protection: ProtectionService;
  audit: AuditService;
}

export function buildHelmServices(deps: HelmServicesDeps): HelmServices {
  const helm = new HelmRepository();
  const { db, access, settings, blobs, clock, config, changes, sharedDatabase, protection, audit } = deps;
  const store = config.blobStore;
  const directDownloadSeconds = store.kind === 's3' && store.directDownload ? store.directDownloadExpirySeconds : undefined;
  const revisions = new DocumentRevisions({ db, store: new DocumentRevisionsRepository(), changes });
  const index = new HelmIndexService({ db, helm, access, settings, clock, externalUrl: config.externalUrl, revisions, shareDocuments: sharedDatabase });
  return {
    index,
    upload: new HelmUploadService({ db, helm, revisions, access, settings, blobs, clock, index, protection }),
    charts: new HelmChartsService({ db, helm, revisions, access, blobs, clock, directDownloadSeconds, changes, protection, audit }),
  };
}
