/**
 * A channel's `index.yaml`, in GitLab's layout (docs/design/gitlab-compatibility.md#helm-index; docs/design/client-protocols.md#reading-indexyaml) with every string double-quoted
 * (`yaml-emit.ts` says why):
 *
 * ```yaml
 * ---
 * apiVersion: v1
 * entries:
 *   "mychart":
 *   - name: "mychart"
 *     version: "0.1.0"
 *     apiVersion: "v2"
 *     appVersion: "1.16.0"
 *     created: "2024-05-01T10:20:30.123000000Z"
 *     digest: "fd2b2fa0…"
 *     urls:
 *     - "charts/mychart-0.1.0.tgz"
 * generated: "2024-05-02T08:00:00.000000000Z"
 * serverInfo:
 *   contextPath: "/api/v4/projects/42/packages/helm"
 * ```
 *
 * Each entry is the stored `Chart.yaml` (only Helm's keys, see `chart-yaml.ts`) followed by `created`, `digest`
 * and `urls`. Unlike GitLab, whose entries come in package-id order, charts are sorted by name and each chart's
 * versions newest first, as Helm's `SortEntries` would; clients re-sort anyway, other tools get a canonical order.
 */
import { METADATA_KEYS, type ChartMetadata } from './chart-yaml.js';
import { chartFileName, compareParsedDescending, parseChartVersion } from './rules.js';
import { emitSequenceItem, keyLine, scalar, type YamlValue } from './yaml-emit.js';

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

function entryOf(chart: IndexChart): Record<string, YamlValue> {
  const entry: Record<string, YamlValue> = {};
  // Only Helm's keys, even if a stored row were ever to hold more: one unknown key fails `helm repo update`.
  for (const [key, value] of Object.entries(chart.metadata)) {
    if (!METADATA_KEYS.includes(key) || value === undefined) continue;
    entry[key] = value as YamlValue;
  }
  entry.created = helmTimestamp(chart.created);
  entry.digest = chart.sha256;
  entry.urls = [`charts/${chartFileName(chart.metadata.name, chart.metadata.version)}`];
  return entry;
}

/** One chart version's entry as it appears in the document, rendered once per stored file and reused. */
export interface IndexFragment {
  name: string;
  version: string;
  fileId: number;
  /** The entry's YAML: `  - name: …` and its keys, at the indentation the document needs. */
  text: string;
  /** The version parsed once for sorting. */
  parsed: ReturnType<typeof parseChartVersion>;
}

export function renderIndexFragment(chart: IndexChart): IndexFragment {
  return {
    name: chart.metadata.name,
    version: chart.metadata.version,
    fileId: chart.fileId,
    text: emitSequenceItem(entryOf(chart), '  '),
    parsed: parseChartVersion(chart.metadata.version),
  };
}

/**
 * The document from prerendered fragments: charts sorted by name, each chart's versions newest first. A channel of
 * 10,000 versions is then a sort and a concatenation, not 10,000 renderings, whenever one chart changes.
 */
export function assembleIndexYaml(fragments: readonly IndexFragment[], generated: string, contextPath: string): string {
  const byName = new Map<string, IndexFragment[]>();
  for (const f of fragments) {
    const list = byName.get(f.name);
    if (list) list.push(f);
    else byName.set(f.name, [f]);
  }
  const out = ['---\n', 'apiVersion: v1\n'];
  if (byName.size === 0) out.push('entries: {}\n');
  else {
    out.push('entries:\n');
    for (const name of [...byName.keys()].sort()) {
      const versions = byName.get(name)!;
      versions.sort((a, b) => compareParsedDescending(a.version, a.parsed, b.version, b.parsed) || b.fileId - a.fileId);
      out.push(keyLine(name, '  '));
      for (const v of versions) out.push(v.text);
    }
  }
  out.push(`generated: ${scalar(helmTimestamp(generated))}\n`, 'serverInfo:\n', `  contextPath: ${scalar(contextPath)}\n`);
  return out.join('');
}

/** Renders the document; `charts` may come in any order. */
export function renderIndexYaml(input: IndexInput): string {
  return assembleIndexYaml(input.charts.map(renderIndexFragment), input.generated, input.contextPath);
}
