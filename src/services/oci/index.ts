/** The OCI distribution API's services (docs/design/helm-oci.md). */
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import type { Connection, Executor } from '../ports.js';
import type { SettingsService } from '../settings.service.js';
import { OciBlobsService, type OciBlobsStore } from './blobs.service.js';
import { OciManifestsService, type ChartUploadPort, type OciManifestsDeps, type OciManifestsStore, type PackageDeletePort } from './manifests.service.js';

export interface OciServices {
  blobs: OciBlobsService;
  manifests: OciManifestsService;
}

export interface OciServicesDeps {
  db: Connection & Executor;
  oci: OciBlobsStore & OciManifestsStore;
  /** The Helm upload service: an OCI push is validated and stored as a classic upload is. */
  charts: ChartUploadPort;
  /** The packages API's delete: a manifest DELETE deletes the Helm package version through it. */
  packages: PackageDeletePort;
  protection: OciManifestsDeps['protection'];
  blobs: BlobStore;
  settings: SettingsService;
  clock: Clock;
}

export function buildOciServices(deps: OciServicesDeps): OciServices {
  const { db, oci, blobs, settings, clock, charts, packages, protection } = deps;
  return {
    blobs: new OciBlobsService({ db, oci, blobs, settings, clock }),
    manifests: new OciManifestsService({ db, oci, blobs, charts, packages, protection, settings, clock }),
  };
}
