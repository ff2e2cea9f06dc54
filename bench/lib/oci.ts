/**
 * The OCI scenarios' material: the Helm artifacts pushed (a ~16 KB chart and a ~5 MB one, the same bytes to every
 * registry), a push that speaks only the distribution API (so Wharf and docker-registry receive exactly the same
 * requests), and Debian's docker-registry (the CNCF distribution reference registry) as the peer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DOCKER_REGISTRY_BIN, dockerRegistryMissing } from '../../test/helpers/oci-registry.js';
import { chartTgz } from './charts.js';
import { freePort, spawnServer, type Proc } from './procs.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

export const sha256Digest = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface HelmArtifact {
  /** The chart's name: the repository name's last segment. */
  chart: string;
  version: string;
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
}

/**
 * A real chart archive with `payloadBytes` of random (incompressible) data in `files/payload.bin`, so that the
 * archive is about that large; and the manifest `helm push` would send for it.
 */
export function helmArtifact(chart: string, version: string, payloadBytes: number): HelmArtifact {
  const layer = chartTgz(chart, version, [{ path: `${chart}/files/payload.bin`, content: randomBytes(payloadBytes) }]);
  // What helm writes as the config blob: Chart.yaml's metadata as JSON.
  const config = Buffer.from(JSON.stringify({ name: chart, version, description: `Benchmark chart ${chart}`, apiVersion: 'v2', appVersion: version, type: 'application' }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: HELM_CONFIG, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: CHART_LAYER, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  return { chart, version, config, layer, manifest };
}

/** POST an upload, PUT its bytes with `?digest=`: the two-request push every registry understands. */
async function pushBlob(base: string, repo: string, bytes: Buffer, headers: Record<string, string>): Promise<void> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`${base}: POST /v2/${repo}/blobs/uploads/ → ${start.status}`);
  const url = new URL(location, base);
  url.searchParams.set('digest', sha256Digest(bytes));
  const done = await fetch(url, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: bytes });
  const text = await done.text();
  if (done.status !== 201) throw new Error(`${base}: PUT ${url.pathname}?digest= → ${done.status} ${text}`);
}

/** Pushes config, chart layer and manifest (under the version's tag) to `<base>/v2/<repo>`. */
export async function pushHelmArtifact(base: string, repo: string, a: HelmArtifact, headers: Record<string, string> = {}): Promise<void> {
  await pushBlob(base, repo, a.config, headers);
  await pushBlob(base, repo, a.layer, headers);
  const r = await fetch(`${base}/v2/${repo}/manifests/${a.version}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': OCI_MANIFEST },
    body: a.manifest,
  });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`${base}: PUT /v2/${repo}/manifests/${a.version} → ${r.status} ${text}`);
}

/**
 * docker-registry without auth on a free loopback port, as a bench process (its output to `work/docker-registry.log`,
 * as every bench server's), logging at `error` as Verdaccio does here: at `info` it writes a line per request.
 * Undefined, with the reason, when it is not installed.
 */
export async function startDockerRegistry(work: string): Promise<{ proc?: Proc; missing?: string }> {
  const missing = dockerRegistryMissing();
  if (missing) return { missing };
  const port = await freePort();
  const dir = path.join(work, 'docker-registry');
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'config.yml');
  // JSON is YAML. The same storage settings as the tests' registry (test/helpers/oci-registry.ts).
  writeFileSync(
    config,
    JSON.stringify({
      version: 0.1,
      log: { level: 'error', formatter: 'text', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: path.join(dir, 'storage') }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
      http: { addr: `127.0.0.1:${port}`, secret: 'wharf-bench-registry-secret' },
    }),
  );
  const proc = await spawnServer({
    name: 'docker-registry',
    command: DOCKER_REGISTRY_BIN,
    args: ['serve', config],
    cwd: dir,
    url: `http://127.0.0.1:${port}`,
    readyPath: '/v2/',
    logFile: path.join(work, 'docker-registry.log'),
  });
  return { proc };
}
