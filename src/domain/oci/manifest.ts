/**
 * The one kind of OCI manifest Wharf stores: a Helm chart (docs/design/helm-oci.md#one-store), and artifacts attached
 * to one (`referrer.ts`). Anything else is refused with a message saying so, before any of it is stored.
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const HELM_PROVENANCE_LAYER = 'application/vnd.cncf.helm.chart.provenance.v1.prov';

/** Manifests are small; the reference registry's limit is 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface HelmManifest {
  config: Descriptor;
  chart: Descriptor;
  provenance?: Descriptor;
}

export type ManifestCheck = { ok: true; manifest: HelmManifest } | { ok: false; reason: string; helm: boolean };

export const ONLY_HELM = 'only Helm charts (and artifacts attached to them) are stored here';

/** A descriptor's required fields, or undefined when one is missing or of the wrong type. */
export function descriptor(value: unknown): Descriptor | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    return undefined;
  }
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * The manifest's Helm parts, or why it is refused: `helm: false` when it is some other artifact (an image, an
 * index), which the spec's `MANIFEST_INVALID` answers with "only Helm charts"; `helm: true` when it is a malformed
 * Helm manifest. `contentType` is the request's, which must agree with the manifest's own `mediaType`.
 */
export function checkHelmManifest(bytes: Buffer, contentType: string | undefined): ManifestCheck {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the manifest is not valid JSON', helm: true };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, reason: 'the manifest is not a JSON object', helm: true };
  const m = doc as Record<string, unknown>;
  const type = contentType?.split(';')[0]?.trim();
  if (m.mediaType !== undefined && m.mediaType !== OCI_MANIFEST) return { ok: false, reason: `${ONLY_HELM}, not ${String(m.mediaType)}`, helm: false };
  if (type !== undefined && type !== OCI_MANIFEST) return { ok: false, reason: `${ONLY_HELM}: send an OCI image manifest (${OCI_MANIFEST}), not ${type}`, helm: false };
  if (m.schemaVersion !== 2) return { ok: false, reason: 'schemaVersion must be 2', helm: true };
  const config = descriptor(m.config);
  if (!config) return { ok: false, reason: 'the manifest has no valid config descriptor', helm: true };
  if (config.mediaType !== HELM_CONFIG) return { ok: false, reason: `${ONLY_HELM}: the config media type is ${config.mediaType}, not ${HELM_CONFIG}`, helm: false };
  if (!Array.isArray(m.layers)) return { ok: false, reason: 'the manifest has no layers', helm: true };
  const layers = m.layers.map(descriptor);
  if (layers.some((l) => l === undefined)) return { ok: false, reason: 'a layer descriptor is malformed', helm: true };
  const charts = layers.filter((l) => l!.mediaType === HELM_CHART_LAYER);
  const provs = layers.filter((l) => l!.mediaType === HELM_PROVENANCE_LAYER);
  const other = layers.find((l) => l!.mediaType !== HELM_CHART_LAYER && l!.mediaType !== HELM_PROVENANCE_LAYER);
  if (other) return { ok: false, reason: `${ONLY_HELM}: a layer of media type ${other.mediaType} is not part of a chart`, helm: false };
  if (charts.length !== 1) return { ok: false, reason: `a Helm chart manifest has exactly one chart layer (${HELM_CHART_LAYER}), this one has ${charts.length}`, helm: true };
  if (provs.length > 1) return { ok: false, reason: 'a Helm chart manifest has at most one provenance layer', helm: true };
  // A manifest with a subject never gets here: `checkReferrer` takes it (and refuses a chart that names one).
  return { ok: true, manifest: { config, chart: charts[0]!, ...(provs[0] ? { provenance: provs[0] } : {}) } };
}
