/** The OCI distribution API's services (docs/design/helm-oci.md); manifests and tags join them next. */
import type { Clock } from '../../domain/clock.js';
import type { BlobStore } from '../blob-store.js';
import type { Executor } from '../ports.js';
import type { SettingsService } from '../settings.service.js';
import { OciBlobsService, type OciBlobsStore } from './blobs.service.js';

export interface OciServices {
  blobs: OciBlobsService;
}

export interface OciServicesDeps {
  db: Executor;
  oci: OciBlobsStore;
  blobs: BlobStore;
  settings: SettingsService;
  clock: Clock;
}

export function buildOciServices(deps: OciServicesDeps): OciServices {
  return { blobs: new OciBlobsService(deps) };
}
