/**
 * What the HTTP and web layers are given: the configuration, the clock and the services. Type-only, and free of
 * storage, so that routes depend on use cases and never on how they are stored; `compose.ts` builds a `Deps` that
 * also carries the database and blob store, which only the composition root and `app.ts` see.
 */
import type { Config } from './config/config.js';
import type { Clock } from './domain/clock.js';
import type { AccessService } from './services/access.service.js';
import type { AuditService } from './services/audit.service.js';
import type { BootstrapService } from './services/bootstrap.service.js';
import type { GcService } from './services/gc.service.js';
import type { GroupsService } from './services/groups.service.js';
import type { HealthService } from './services/health.service.js';
import type { HelmServices } from './services/helm/index.js';
import type { IdentityService } from './services/identity.service.js';
import type { MembersService } from './services/members.service.js';
import type { NpmServices } from './services/npm/index.js';
import type { OciServices } from './services/oci/index.js';
import type { PackagePagesService } from './services/package-pages.service.js';
import type { PackagesService } from './services/packages.service.js';
import type { ProjectsService } from './services/projects.service.js';
import type { ProtectionService } from './services/protection.service.js';
import type { RegistryTokenService } from './services/registry-tokens.service.js';
import type { SessionsService } from './services/sessions.service.js';
import type { SettingsService } from './services/settings.service.js';
import type { TokensService } from './services/tokens.service.js';
import type { TrustedPublishingService } from './services/trusted-publishing.service.js';
import type { UsersService } from './services/users.service.js';

export interface Services {
  identity: IdentityService;
  access: AccessService;
  users: UsersService;
  groups: GroupsService;
  projects: ProjectsService;
  members: MembersService;
  tokens: TokensService;
  settings: SettingsService;
  bootstrap: BootstrapService;
  npm: NpmServices;
  helm: HelmServices;
  oci: OciServices;
  sessions: SessionsService;
  packages: PackagesService;
  gc: GcService;
  packagePages: PackagePagesService;
  protection: ProtectionService;
  audit: AuditService;
  health: HealthService;
  registryTokens: RegistryTokenService;
  trustedPublishing: TrustedPublishingService;
}

export interface Deps {
  config: Config;
  services: Services;
  clock: Clock;
}
