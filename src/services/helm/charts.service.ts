/**
 * Chart and provenance downloads (GitLab's `GET H/:channel/charts/:file_name.tgz`, docs/design/gitlab-compatibility.md#helm-chart-downloads, plus `.tgz.prov`), and
 * ChartMuseum's `DELETE /api/charts/:name/:version` scoped to one channel.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { chartFileName, splitChartFileName } from '../../domain/helm/rules.js';
import type { LiveHelmFile, PackageFileRow, PackageRow } from '../../domain/records.js';
import type { BlobStore } from '../blob-store.js';
import { FreshMemo } from '../fresh-memo.js';
import type { ChangeSignal, Connection, Executor, UniqueViolations } from '../ports.js';
import type { ProjectAccess } from '../access.service.js';
import { withRetry } from './retry.js';
import { contextOf, type AuditContext } from '../../domain/audit.js';
import type { AuditService } from '../audit.service.js';
import { helmIndexKey } from '../documents/revisions.js';
import type { HelmProtectionPort, HelmRevisionsPort } from './ports.js';

/** What downloads and deletes need of the Helm store (`HelmRepository`). */
export interface HelmChartsStore extends UniqueViolations {
  /**
   * The newest live file called `fileName` in the channel, looked up through the package's name and version;
   * `candidates` are the (name, version) pairs the file name can stand for.
   */
  findLiveFile(
    db: Executor,
    projectId: number,
    channel: string,
    fileName: string,
    candidates: ReadonlyArray<{ name: string; version: string }>,
  ): Promise<PackageFileRow | undefined>;
  /** The live (not being destroyed) package with this name and version. */
  findActivePackage(db: Executor, projectId: number, name: string, version: string): Promise<PackageRow | undefined>;
  /** Marks the package as changed and locks its row until commit; false when it is being destroyed. */
  touchPackage(db: Executor, packageId: number, now: string): Promise<boolean>;
  liveFiles(db: Executor, packageId: number, channel: string): Promise<LiveHelmFile[]>;
  countLiveFiles(db: Executor, packageId: number): Promise<number>;
  /** Takes files out of every listing (rows and blobs stay until `gc`). */
  retireFiles(db: Executor, fileIds: readonly number[]): Promise<void>;
  retirePackage(db: Executor, packageId: number, now: string): Promise<void>;
}

export interface HelmChartsDeps {
  db: Connection & Executor;
  helm: HelmChartsStore;
  /** Taking a chart out of a channel changes its index. */
  revisions: HelmRevisionsPort;
  blobs: BlobStore;
  clock: Clock;
  /** Set when downloads are answered with a pre-signed URL of the object store (GitLab's `302`), for this long. */
  directDownloadSeconds?: number | undefined;
  /** Lets file lookups skip the database while nothing was written (SQLite). */
  changes: ChangeSignal;
  audit: AuditService;
  /** Package protection rules: a chart taken out of a channel is a delete. */
  protection: HelmProtectionPort;
}

export interface HelmDownload {
  fileName: string;
  kind: 'chart' | 'provenance';
  size: number;
  sha256: string;
  /** The bytes, or where to fetch them (helm follows redirects; the URL is pre-signed, so it needs no credentials). */
  body: { content: Readable | Buffer } | { redirect: string };
}

export class HelmChartsService {
  readonly #d: HelmChartsDeps;
  readonly #files: FreshMemo<PackageFileRow | undefined>;

  constructor(deps: HelmChartsDeps) {
    this.#d = deps;
    this.#files = new FreshMemo(deps.changes);
  }

  /**
   * `fileName` is the last URL segment: `<name>-<version>.tgz` or `<name>-<version>.tgz.prov`. The route decided
   * that the caller may read the project's packages and that the channel is valid.
   */
  async download(projectId: number, channel: string, fileName: string, signal?: AbortSignal): Promise<HelmDownload> {
    const kind = fileName.endsWith('.tgz.prov') ? 'provenance' : 'chart';
    const archiveName = kind === 'provenance' ? fileName.slice(0, -'.prov'.length) : fileName;
    const file = await this.#files.get(`${projectId}\0${channel}\0${fileName}`, async () => {
      const found = await this.#d.helm.findLiveFile(this.#d.db, projectId, channel, fileName, splitChartFileName(archiveName));
      return found && Object.freeze(found);
    });
    if (!file) throw errors.helmNotFound(kind === 'chart' ? 'Chart' : 'Provenance file');
    const found = { fileName: file.file_name, kind, size: Number(file.size), sha256: file.sha256 } as const;
    const { blobs, directDownloadSeconds } = this.#d;
    if (directDownloadSeconds !== undefined && blobs.downloadUrl) {
      const url = await blobs.downloadUrl(file.blob_key, { expiresInSeconds: directDownloadSeconds, fileName: file.file_name });
      return { ...found, body: { redirect: url } };
    }
    const bytes = blobs.cached?.(file.blob_key);
    if (bytes) return { ...found, body: { content: bytes } };
    const stream = await blobs.get(file.blob_key, signal);
    // A row without its blob is damage to the store, not a missing chart: a logged 500, not a quiet 404.
    if (!stream) throw new Error(`blob ${file.blob_key} of package file ${file.id} is missing from the blob store`);
    return { ...found, body: { content: stream } };
  }

  /**
   * Takes a chart version (and its provenance file) out of one channel. The package itself goes only when no other
   * channel still holds a file of it, so the generic packages API keeps listing what is still installable. The
   * route decided `destroy_package`; protection rules are checked here, inside the write's transaction.
   */
  async delete(target: ProjectAccess, channel: string, name: string, version: string, audit: AuditContext = contextOf(target.identity)): Promise<void> {
    const { identity, project, ctx } = target;
    const { db, helm, protection } = this.#d;
    const notFound = () => errors.helmNotFound(`Chart ${chartFileName(name, version)} in channel ${channel}`);
    await withRetry(helm, () =>
      db.transaction().execute(async (trx) => {
        const now = iso(this.#d.clock.now());
        const pkg = await helm.findActivePackage(trx, project.id, name, version);
        if (!pkg || !(await helm.touchPackage(trx, pkg.id, now))) throw notFound();
        const live = await helm.liveFiles(trx, pkg.id, channel);
        if (!live.some((f) => f.kind === 'chart')) throw notFound();
        await protection.require({ action: 'delete', identity, project, ctx, type: 'helm', name: pkg.name, surface: 'helm' }, trx);
        await this.#d.revisions.changed(trx, helmIndexKey(project.id, channel), now);
        await helm.retireFiles(trx, live.map((f) => f.id));
        if ((await helm.countLiveFiles(trx, pkg.id)) === 0) await helm.retirePackage(trx, pkg.id, now);
        await this.#d.audit.record(trx, audit, {
          name: 'package_deleted',
          entity: { type: 'Project', id: project.id, path: project.full_path },
          target: { type: 'Packages::Package', id: pkg.id, details: `${pkg.name}@${pkg.version}` },
          message: `Deleted helm chart ${pkg.name}@${pkg.version} from channel ${channel}`,
        });
      }),
    );
  }
}
