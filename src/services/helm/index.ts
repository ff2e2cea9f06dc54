/** The Helm chart repository's services, built together because they share one store and one cache. */
import type { Config } from '../../config/config.js';
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import type { ChangeSignal, Connection, Executor } from '../ports.js';
import type { SettingsService } from '../settings.service.js';
import type { AuditService } from '../audit.service.js';
import { HelmChartsService, type HelmChartsStore } from './charts.service.js';
import { HelmIndexService, type HelmIndexStore } from './index.service.js';
import { HelmUploadService, type HelmUploadStore } from './upload.service.js';
import type { HelmProtectionPort, HelmRevisionsPort } from './ports.js';

export interface HelmServices {
  index: HelmIndexService;
  upload: HelmUploadService;
  charts: HelmChartsService;
}

/** Everything the Helm services ask of their store (`HelmRepository`). */
export type HelmStore = HelmIndexStore & HelmChartsStore & HelmUploadStore;

export interface HelmServicesDeps {
  db: Connection & Executor;
  helm: HelmStore;
  /** Channel revisions (the invalidation rule of indexes). */
  revisions: HelmRevisionsPort;
  settings: SettingsService;
  blobs: BlobStore;
  clock: Clock;
  /** `externalUrl` (its path prefixes `serverInfo.contextPath`) and the blob store's direct-download settings. */
  config: Config;
  changes: ChangeSignal;
  /** Several instances share the database (PostgreSQL): built indexes are stored there for the others. */
  sharedDatabase: boolean;
  protection: HelmProtectionPort;
  audit: AuditService;
}

export function buildHelmServices(deps: HelmServicesDeps): HelmServices {
  const { db, helm, revisions, settings, blobs, clock, config, changes, sharedDatabase, protection, audit } = deps;
  const store = config.blobStore;
  const directDownloadSeconds = store.kind === 's3' && store.directDownload ? store.directDownloadExpirySeconds : undefined;
  const index = new HelmIndexService({ db, helm, settings, clock, externalUrl: config.externalUrl, revisions, shareDocuments: sharedDatabase });
  return {
    index,
    upload: new HelmUploadService({ db, helm, revisions, settings, blobs, clock, index, protection }),
    charts: new HelmChartsService({ db, helm, revisions, blobs, clock, directDownloadSeconds, changes, protection, audit }),
  };
}
