/** The npm registry's services, wired from the shared storage the composition root opened. */
import type { Kysely } from 'kysely';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../../storage/blobs/blob-store.js';
import type { Database } from '../../storage/db/schema.js';
import { NamespacesRepository } from '../../storage/db/repositories/namespaces.repository.js';
import { PackageDocumentsRepository } from '../../storage/db/repositories/package-documents.repository.js';
import { PackagesRepository } from '../../storage/db/repositories/packages.repository.js';
import type { SettingsService } from '../settings.service.js';
import { NpmMetadataService } from './metadata.service.js';
import { NpmPublishService } from './publish.service.js';
import { NpmTagsService } from './tags.service.js';

export interface NpmServices {
  metadata: NpmMetadataService;
  publish: NpmPublishService;
  tags: NpmTagsService;
}

export interface NpmServicesDeps {
  db: Kysely<Database>;
  blobs: BlobStore;
  settings: SettingsService;
  clock: Clock;
  config: Config;
}

export function buildNpmServices({ db, blobs, settings, clock, config }: NpmServicesDeps): NpmServices {
  const packages = new PackagesRepository();
  const documents = new PackageDocumentsRepository();
  const namespaces = new NamespacesRepository();
  return {
    metadata: new NpmMetadataService({
      db,
      packages,
      documents,
      blobs,
      externalUrl: config.externalUrl,
      directDownloadSeconds: config.blobStore.kind === 's3' && config.blobStore.directDownload ? config.blobStore.directDownloadExpirySeconds : undefined,
    }),
    publish: new NpmPublishService({ db, packages, documents, namespaces, settings, blobs, clock }),
    tags: new NpmTagsService({ db, packages, documents, clock }),
  };
}
