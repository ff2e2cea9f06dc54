/** The OCI distribution API's services (docs/design/helm-oci.md). */
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import type { ChangeSignal, Connection, Executor } from '../ports.js';
import type { SettingsService } from '../settings.service.js';
import { OciBlobsService, type OciBlobsStore } from './blobs.service.js';
import { OciManifestsService, type ChartUploadPort, type OciManifestsDeps, type OciManifestsStore, type PackageDeletePort } from './manifests.service.js';
import { OciReferrersService, type OciProtectionPort, type OciReferrersStore } from './referrers.service.js';

export interface OciServices {
  blobs: OciBlobsService;
  manifests: OciManifestsService;
  referrers: OciReferrersService;
}

export interface OciServicesDeps {
  db: Connection & Executor;
  oci: OciBlobsStore & OciManifestsStore & OciReferrersStore;
  /** The Helm upload service: an OCI push is validated and stored as a classic upload is. */
  charts: ChartUploadPort;
  /** The packages API's delete: a manifest DELETE deletes the Helm package version through it. */
  packages: PackageDeletePort;
  blobs: BlobStore;
  settings: SettingsService;
  /** Package protection rules: an artifact attached to a chart is a push of the chart, deleting it a delete of it. */
  protection: OciProtectionPort;
  clock: Clock;
  /** Lets pull lookups (blob links, manifests by tag or digest) skip the database while nothing was written (SQLite). */
  changes: ChangeSignal;
}

export function buildOciServices(deps: OciServicesDeps): OciServices {
  const { db, oci, blobs, settings, clock, charts, packages, protection, changes } = deps;
  const referrers = new OciReferrersService({ db, oci, blobs, protection, clock });
  return {
    blobs: new OciBlobsService({ db, oci, blobs, settings, clock, changes }),
    manifests: new OciManifestsService({ db, oci, blobs, charts, referrers, packages, protection, settings, clock, changes }),
    referrers,
  };
}
