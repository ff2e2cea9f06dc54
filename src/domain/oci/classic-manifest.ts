/**
 * The OCI manifest of a chart uploaded the classic way (docs/design/helm-oci.md#one-store): computed from what the
 * store already holds, so the same chart bytes give the same digest on every instance, every time.
 *
 * - config: the chart's `Chart.yaml` metadata as `helm push` encodes it — Go's `encoding/json` of Helm's
 *   `chart.Metadata`: the struct's field order, empty fields left out (`omitempty`), map keys sorted, `<`, `>`, `&`,
 *   U+2028 and U+2029 escaped as `\u….`
 * - layers: the chart archive, then the provenance file when there is one.
 * - annotations: the chart's name and version only; nothing that changes with time (Helm adds a creation time).
 */
import type { ChartDependency, ChartMaintainer, ChartMetadata, ImportValue } from '../helm/chart-yaml.js';
import { HELM_CHART_LAYER, HELM_CONFIG, HELM_PROVENANCE_LAYER, OCI_MANIFEST, type Descriptor } from './manifest.js';
import { ociDigest } from './names.js';

/** A blob the manifest names: its SHA-256 (hex) and size. */
export interface BlobRef {
  sha256: string;
  size: number;
}

type Json = string | number | boolean | Json[] | { [key: string]: Json };
type Field = [key: string, value: Json | undefined, keepEmpty?: boolean];

/** Go's `omitempty`: "", false, and empty slices and maps are left out. */
const isEmpty = (v: Json | undefined): boolean =>
  v === undefined || v === '' || v === false || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v).length === 0);

/** An object in the given key order, without the empty fields Go would omit. */
function struct(fields: readonly Field[]): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [key, value, keepEmpty] of fields) {
    if (keepEmpty) out[key] = value ?? '';
    else if (!isEmpty(value)) out[key] = value!;
  }
  return out;
}

/** Go sorts map keys by their UTF-8 bytes. */
function sortedMap(map: Record<string, string> | undefined): { [key: string]: Json } | undefined {
  if (!map) return undefined;
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: { [key: string]: Json } = {};
  for (const k of keys) out[k] = map[k]!;
  return out;
}

const maintainer = (m: ChartMaintainer): Json => struct([['name', m.name], ['email', m.email], ['url', m.url]]);

const importValue = (v: ImportValue): Json => (typeof v === 'string' ? v : (sortedMap(v as Record<string, string>) ?? {}));

// `name` and `repository` have no `omitempty` in Helm's `chart.Dependency`.
const dependency = (d: ChartDependency): Json =>
  struct([
    ['name', d.name, true],
    ['version', d.version],
    ['repository', d.repository, true],
    ['condition', d.condition],
    ['tags', d.tags],
    ['enabled', d.enabled],
    ['import-values', d['import-values']?.map(importValue)],
    ['alias', d.alias],
  ]);

/** Helm's config blob for the chart: the bytes `helm push` would send for this `Chart.yaml`. */
export function helmConfig(meta: ChartMetadata): Buffer {
  const doc = struct([
    ['name', meta.name],
    ['home', meta.home],
    ['sources', meta.sources],
    ['version', meta.version],
    ['description', meta.description],
    ['keywords', meta.keywords],
    ['maintainers', meta.maintainers?.map(maintainer)],
    ['icon', meta.icon],
    ['apiVersion', meta.apiVersion],
    ['condition', meta.condition],
    ['tags', meta.tags],
    ['appVersion', meta.appVersion],
    ['deprecated', meta.deprecated],
    ['annotations', sortedMap(meta.annotations)],
    ['kubeVersion', meta.kubeVersion],
    ['dependencies', meta.dependencies?.map(dependency)],
    ['type', meta.type],
  ]);
  return Buffer.from(goJson(doc));
}

/** `JSON.stringify` with Go's HTML-safe escapes, as `json.Marshal` writes. */
export function goJson(value: Json): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const descriptor = (mediaType: string, blob: BlobRef): Descriptor => ({ mediaType, digest: ociDigest(blob.sha256), size: blob.size });

/** The manifest's bytes, with a fixed key order; `config` is the blob `helmConfig` made. */
export function classicManifest(meta: ChartMetadata, config: BlobRef, chart: BlobRef, provenance: BlobRef | undefined): Buffer {
  const layers = [descriptor(HELM_CHART_LAYER, chart), ...(provenance ? [descriptor(HELM_PROVENANCE_LAYER, provenance)] : [])];
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(HELM_CONFIG, config),
    layers,
    annotations: { 'org.opencontainers.image.title': meta.name, 'org.opencontainers.image.version': meta.version },
  };
  return Buffer.from(goJson(manifest as unknown as Json));
}
