/** The read model behind the UI's package pages, with the same access rules as the package APIs. */
import { can } from '../domain/access/abilities.js';
import type { Identity } from '../domain/access/identity.js';
import { errors } from '../domain/errors.js';
import type { Page, PageOf, PackageRow, PackageSummary, PackageType, ProjectRow, VersionWithFiles } from '../domain/records.js';
import type { Executor } from './ports.js';
import type { AccessService } from './access.service.js';
import type { BlobStore } from './blob-store.js';
import { MAX_PROVENANCE_BYTES } from '../domain/helm/provenance.js';
import { provenanceSigner, type ProvenanceSigner } from '../domain/helm/provenance-signer.js';

/** What the pages read (`PackagePagesRepository`). */
export interface PackagePagesPort {
  /** One summary per package name of these projects, most recently updated first, filtered by name and type. */
  summaries(db: Executor, projectIds: readonly number[], filter: { q?: string | undefined; type?: PackageType | undefined }, page: Page): Promise<PageOf<PackageSummary>>;
  find(db: Executor, projectId: number, packageId: number): Promise<PackageRow | undefined>;
  /** Every listed version of the package name, with its files. */
  versions(db: Executor, projectId: number, type: PackageType, name: string): Promise<VersionWithFiles[]>;
  tags(db: Executor, projectId: number, name: string): Promise<{ tag: string; package_id: number }[]>;
  npmMetadata(db: Executor, packageId: number): Promise<{ package_json: string; readme: string | null } | undefined>;
  /** The provenance published with an npm version (docs/design/npm-provenance.md). */
  npmAttestation(db: Executor, packageId: number): Promise<{ predicate_type: string; build_source: string | null; build_run: string | null } | undefined>;
  /** The chart file's stored Chart.yaml, as JSON text. */
  chartMetadata(db: Executor, fileId: number): Promise<string | undefined>;
}

export interface PackageDetails {
  project: ProjectRow;
  pkg: PackageRow;
  versions: VersionWithFiles[];
  tags: { tag: string; version: string }[];
  /** npm: the version's stored package.json and README, and the provenance published with it (as its statement claims). */
  npm?: { manifest: Record<string, unknown>; readme: string | null; provenance?: { predicateType: string; source: string | null; run: string | null } };
  /** Helm: the chart's Chart.yaml as stored, and the channels it is in. */
  chart?: {
    metadata: Record<string, unknown>;
    channels: string[];
    /** The version's `.prov` file, if it has one, and the key its OpenPGP signature names (not verified here). */
    provenance?: { fileName: string; signer: ProvenanceSigner | undefined };
  };
  canDestroy: boolean;
}

export class PackagePagesService {
  readonly #db: Executor;
  readonly #repo: PackagePagesPort;
  readonly #access: AccessService;
  /** Reads a chart's provenance file for its signer (a page view, not a registry path; the file is at most 2 MB). */
  readonly #blobs: Pick<BlobStore, 'get'>;
  constructor(db: Executor, repo: PackagePagesPort, access: AccessService, blobs: Pick<BlobStore, 'get'>) {
    this.#db = db;
    this.#repo = repo;
    this.#access = access;
    this.#blobs = blobs;
  }

  async explore(identity: Identity, filter: { q?: string | undefined; type?: PackageType | undefined }, page: Page): Promise<PageOf<PackageSummary>> {
    const readable = await this.#access.readableProjectsIn(identity);
    return this.#repo.summaries(this.#db, [...readable.keys()], filter, page);
  }

  /** A project's or a group tree's packages; 404 when the caller may not read them. */
  async ofPath(identity: Identity, fullPath: string, filter: { q?: string | undefined; type?: PackageType | undefined }, page: Page) {
    const project = await this.#access.findProject(fullPath);
    if (project) {
      if (!can(identity, 'read_package', await this.#access.projectContext(identity, project))) throw errors.notFound('Project');
      return { kind: 'project' as const, title: project.full_path, result: await this.#repo.summaries(this.#db, [project.id], filter, page) };
    }
    const group = await this.#access.findGroup(fullPath).catch(() => undefined);
    if (!group) throw errors.notFound();
    const { group: visible } = await this.#access.readableGroup(identity, String(group.id));
    const readable = await this.#access.readableProjectsIn(identity, visible);
    return { kind: 'group' as const, title: visible.full_path, result: await this.#repo.summaries(this.#db, [...readable.keys()], filter, page) };
  }

  async details(identity: Identity, projectPath: string, packageId: number): Promise<PackageDetails> {
    const project = await this.#access.findProject(projectPath);
    const ctx = project ? await this.#access.projectContext(identity, project) : undefined;
    // Invisible and missing look the same: 404, never 401 or 403, so a page does not reveal what exists.
    if (!project || !ctx || !can(identity, 'read_package', ctx)) throw errors.notFound('Package');
    const pkg = await this.#repo.find(this.#db, project.id, packageId);
    if (!pkg) throw errors.notFound('Package');
    const versions = await this.#repo.versions(this.#db, project.id, pkg.package_type, pkg.name);
    const versionOf = new Map(versions.map((v) => [v.id, v.version]));
    const tags = (await this.#repo.tags(this.#db, project.id, pkg.name))
      .filter((t) => versionOf.has(t.package_id))
      .map((t) => ({ tag: t.tag, version: versionOf.get(t.package_id)! }));
    const details: PackageDetails = { project, pkg, versions, tags, canDestroy: can(identity, 'destroy_package', ctx) };
    if (pkg.package_type === 'npm') {
      const meta = await this.#repo.npmMetadata(this.#db, pkg.id);
      if (meta) details.npm = { manifest: JSON.parse(meta.package_json) as Record<string, unknown>, readme: meta.readme };
      const attestation = details.npm && (await this.#repo.npmAttestation(this.#db, pkg.id));
      if (details.npm && attestation) {
        details.npm.provenance = { predicateType: attestation.predicate_type, source: attestation.build_source, run: attestation.build_run };
      }
    } else {
      const files = versions.find((v) => v.id === pkg.id)?.files ?? [];
      const chartFile = files.find((f) => f.file_name.endsWith('.tgz'));
      const metadata = chartFile ? await this.#repo.chartMetadata(this.#db, chartFile.id) : undefined;
      details.chart = {
        metadata: metadata ? (JSON.parse(metadata) as Record<string, unknown>) : {},
        channels: [...new Set(files.map((f) => f.channel).filter((c): c is string => c !== null))].sort(),
      };
      const prov = files.find((f) => f.file_name.endsWith('.tgz.prov'));
      if (prov) details.chart.provenance = { fileName: prov.file_name, signer: await this.#signerOf(prov.blob_key, prov.size) };
    }
    return details;
  }

  async #signerOf(blobKey: string, size: number): Promise<ProvenanceSigner | undefined> {
    if (size > MAX_PROVENANCE_BYTES) return undefined;
    const stream = await this.#blobs.get(blobKey);
    if (!stream) return undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      if (total > MAX_PROVENANCE_BYTES) {
        stream.destroy();
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
    return provenanceSigner(Buffer.concat(chunks).toString('utf8'));
  }
}
