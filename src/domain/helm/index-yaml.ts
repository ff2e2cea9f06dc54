/**
 * A channel's `index.yaml`, as GitLab renders it (gitlab-api.md §4.6; clients.md C.5):
 *
 * ```yaml
 * ---
 * apiVersion: v1
 * entries:
 *   mychart:
 *   - name: mychart
 *     version: 0.1.0
 *     apiVersion: v2
 *     appVersion: "1.16.0"
 *     created: '2024-05-01T10:20:30.123000000Z'
 *     digest: fd2b2fa0…
 *     urls:
 *     - charts/mychart-0.1.0.tgz
 * generated: '2024-05-02T08:00:00.000000000Z'
 * serverInfo:
 *   contextPath: /api/v4/projects/42/packages/helm
 * ```
 *
 * Each entry is the stored `Chart.yaml` (only Helm's keys, see `chart-yaml.ts`) followed by `created`, `digest`
 * and `urls`. Unlike GitLab, whose entries come in package-id order, charts are sorted by name and each chart's
 * versions newest first, as Helm's `SortEntries` would; clients re-sort anyway, other tools get a canonical order.
 */
import { METADATA_KEYS, type ChartMetadata } from './chart-yaml.js';
import { chartFileName, compareVersionsDescending } from './rules.js';
import { DoubleQuoted, emitYamlDocument, type YamlNode } from './yaml-emit.js';

export interface IndexChart {
  metadata: ChartMetadata;
  /** Upload time of the file (ISO-8601). */
  created: string;
  /** Lower-case hex SHA-256 of the stored archive. */
  sha256: string;
  /** Ties between equal versions go to the most recent upload. */
  fileId: number;
}

export interface IndexInput {
  charts: readonly IndexChart[];
  /** ISO-8601; Wharf passes the time of the channel's last change, so a revision always renders to the same bytes. */
  generated: string;
  /** `/api/v4/projects/<numeric id>/packages/helm`, behind the external URL's own path if it has one. */
  contextPath: string;
}

/** Ruby's `%Y-%m-%dT%H:%M:%S.%NZ`: nanosecond digits, which JavaScript's millisecond clock pads with zeros. */
export function helmTimestamp(isoString: string): string {
  const d = new Date(isoString);
  if (Number.isNaN(d.getTime())) throw new Error(`not a timestamp: ${isoString}`);
  return `${d.toISOString().slice(0, 23)}000000Z`;
}

/** GitLab's `/api/v4/projects/<id>/packages/helm`, under the path the instance is served from (`/wharf/api/v4/...`). */
export function helmContextPath(externalUrl: string, projectId: number): string {
  const base = new URL(externalUrl).pathname.replace(/\/+$/, '');
  return `${base}/api/v4/projects/${projectId}/packages/helm`;
}

function entryOf(chart: IndexChart): Record<string, YamlNode> {
  const entry: Record<string, YamlNode> = {};
  // Only Helm's keys, even if a stored row were ever to hold more: one unknown key fails `helm repo update`.
  for (const [key, value] of Object.entries(chart.metadata)) {
    if (!METADATA_KEYS.includes(key) || value === undefined) continue;
    // GitLab double-quotes every appVersion (`4852e000`, `1.10`, `master` alike) so none is read as a number.
    entry[key] = key === 'appVersion' && typeof value === 'string' ? new DoubleQuoted(value) : (value as YamlNode);
  }
  entry.created = helmTimestamp(chart.created);
  entry.digest = chart.sha256;
  entry.urls = [`charts/${chartFileName(chart.metadata.name, chart.metadata.version)}`];
  return entry;
}

/** Renders the document; `charts` may come in any order. */
export function renderIndexYaml(input: IndexInput): string {
  const byName = new Map<string, IndexChart[]>();
  for (const chart of input.charts) {
    const list = byName.get(chart.metadata.name);
    if (list) list.push(chart);
    else byName.set(chart.metadata.name, [chart]);
  }
  const entries: Record<string, YamlNode> = {};
  for (const name of [...byName.keys()].sort()) {
    const versions = byName.get(name)!;
    versions.sort((a, b) => compareVersionsDescending(a.metadata.version, b.metadata.version) || b.fileId - a.fileId);
    entries[name] = versions.map(entryOf);
  }
  return emitYamlDocument({
    apiVersion: 'v1',
    entries,
    generated: helmTimestamp(input.generated),
    serverInfo: { contextPath: input.contextPath },
  });
}
