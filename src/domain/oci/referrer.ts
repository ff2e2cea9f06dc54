/**
 * Artifacts attached to a chart (docs/design/helm-oci.md#referrers): signatures, SBOMs and attestations that `oras
 * attach`, `cosign … --registry-referrers-mode=oci-1-1` and `notation sign` push as an OCI image manifest whose
 * `subject` names a chart's manifest. They are the only manifests besides charts Wharf stores; everything else is
 * refused with the "only Helm charts" message of `manifest.ts`.
 */
import { descriptor, HELM_CONFIG, OCI_MANIFEST, ONLY_HELM as ONLY, type Descriptor } from './manifest.js';
import { checkDigest } from './names.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** The image spec's empty config: an artifact using it must name its `artifactType`. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/**
 * A referrer is small (a signature, its certificate and transparency-log bundle in annotations, a few layer
 * descriptors); its annotations are served back in every referrers listing, so they are bounded well below a
 * chart manifest's 4 MiB.
 */
export const MAX_REFERRER_BYTES = 256 * 1024;
export const MAX_REFERRER_LAYERS = 64;

export interface ReferrerManifest {
  config: Descriptor;
  layers: Descriptor[];
  subject: Descriptor;
  /** The subject's digest as the blob store's key (hex). */
  subjectSha256: string;
  /** `artifactType`, or the config's media type when the manifest has none (as the referrers API reports it). */
  artifactType: string;
}

export type ReferrerCheck = { ok: true; manifest: ReferrerManifest } | { ok: false; reason: string };

/** RFC 6838 `type/subtype`, which the image spec requires of `artifactType`. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

const isStringMap = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

function parse(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const doc: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The manifest as an artifact attached to a chart, or why it is refused; undefined when it has no `subject` (then
 * it must be a chart, which `checkHelmManifest` decides, and is refused there when it is not one). A chart's own
 * manifest with a subject is refused: a chart stands alone. `contentType` is the request's.
 */
export function checkReferrer(bytes: Buffer, contentType: string | undefined): ReferrerCheck | undefined {
  const m = parse(bytes);
  if (!m || m.subject === undefined) return undefined;
  const type = contentType?.split(';')[0]?.trim();
  if (m.mediaType !== OCI_MANIFEST || (type !== undefined && type !== OCI_MANIFEST)) {
    const what = m.mediaType === undefined ? type : String(m.mediaType);
    return { ok: false, reason: `${ONLY}: an attached artifact is an OCI image manifest (${OCI_MANIFEST}), not ${what}` };
  }
  if (bytes.length > MAX_REFERRER_BYTES) return { ok: false, reason: `an artifact attached to a chart is at most ${MAX_REFERRER_BYTES} bytes, this one has ${bytes.length}` };
  if (m.schemaVersion !== 2) return { ok: false, reason: 'schemaVersion must be 2' };
  const config = descriptor(m.config);
  if (!config) return { ok: false, reason: 'the manifest has no valid config descriptor' };
  if (config.mediaType === HELM_CONFIG) return { ok: false, reason: 'a Helm chart manifest takes no subject: only artifacts attached to a chart name one' };
  if (!Array.isArray(m.layers)) return { ok: false, reason: 'the manifest has no layers array' };
  if (m.layers.length > MAX_REFERRER_LAYERS) return { ok: false, reason: `an artifact attached to a chart has at most ${MAX_REFERRER_LAYERS} layers, this one has ${m.layers.length}` };
  const layers = m.layers.map(descriptor);
  if (layers.some((l) => l === undefined)) return { ok: false, reason: 'a layer descriptor is malformed' };
  const subject = descriptor(m.subject);
  if (!subject) return { ok: false, reason: 'the subject descriptor is malformed' };
  const digest = checkDigest(subject.digest);
  if (!digest.ok) return { ok: false, reason: `the subject ${subject.digest} is not a sha256 digest` };
  if (subject.mediaType !== OCI_MANIFEST) return { ok: false, reason: `the subject must be a chart's manifest (${OCI_MANIFEST}), not ${subject.mediaType}` };
  if (m.artifactType !== undefined && (typeof m.artifactType !== 'string' || !MEDIA_TYPE.test(m.artifactType))) {
    return { ok: false, reason: 'artifactType must be a media type (type/subtype)' };
  }
  if (m.artifactType === undefined && config.mediaType === OCI_EMPTY) return { ok: false, reason: `an artifact with the empty config (${OCI_EMPTY}) must give its artifactType` };
  if (m.annotations !== undefined && !isStringMap(m.annotations)) return { ok: false, reason: 'annotations must map strings to strings' };
  const artifactType = typeof m.artifactType === 'string' ? m.artifactType : config.mediaType;
  return { ok: true, manifest: { config, layers: layers as Descriptor[], subject, subjectSha256: digest.sha256, artifactType } };
}

/** A stored referrer's annotations (validated when it was pushed), for its descriptor in a referrers listing. */
export function annotationsOf(bytes: Buffer): Record<string, string> | undefined {
  const annotations = parse(bytes)?.annotations;
  return annotations !== undefined && isStringMap(annotations) ? (annotations as Record<string, string>) : undefined;
}
