/**
 * Provenance attestations of `npm publish --provenance` (docs/design/npm-provenance.md): the sigstore bundle npm
 * attaches beside the tarball, read and checked without I/O.
 *
 * libnpmpublish sends it as `_attachments["<name>-<version>.sigstore"]` = `{content_type: <bundle mediaType>,
 * data: <the bundle as JSON text, not Base64>, length}`. The bundle's `dsseEnvelope.payload` is the Base64 of an
 * in-toto statement whose one subject is `pkg:npm/<name with @ as %40>@<version>` with the tarball's SHA-512 (hex).
 *
 * What is checked here is what ties the bundle to this publish (shape, subject, digest). The signature chain is
 * not verified (the public sigstore roots are unreachable from closed networks); the design note says why.
 */
import { errors } from '../errors.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Real bundles are 4–10 KB; this bounds what one publish may make Wharf parse and store. */
export const MAX_PROVENANCE_BUNDLE_BYTES = 1024 * 1024;

/** The bounded strings kept from a statement for the package page. */
const MAX_SHOWN_CHARS = 512;

const BUNDLE_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.\d+)?\+json(;\s*version=0\.\d+)?$/;
const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const STATEMENT_TYPES = new Set(['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1']);
const SLSA_PREFIX = 'https://slsa.dev/provenance/';
/** Standard or URL-safe Base64, as protobuf's JSON mapping and `Buffer.from(…, 'base64')` accept. */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** The attachment key npm uses for a version's bundle. */
export const provenanceFileName = (name: string, version: string): string => `${name}-${version}.sigstore`;

/** The package URL npm signs (npm-package-arg's `toPurl` for the public registry): `@` of a scope as `%40`. */
export const npmPurl = (name: string, version: string): string => `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;

/** Where the build ran, as far as the statement says (both optional; bounded; for display only). */
export interface BuildOrigin {
  /** The repository or project the build came from (`https://github.com/o/r`, `https://gitlab.example/g/p`). */
  readonly source: string | undefined;
  /** The run or job that built it (GitHub Actions run URL, GitLab job URL), or the workflow file. */
  readonly run: string | undefined;
}

export interface ProvenanceBundle {
  /** The bundle exactly as sent (what the attestations endpoint serves back, byte for byte). */
  readonly bytes: Buffer;
  /** The statement's `predicateType` (`https://slsa.dev/provenance/v1` or `/v0.2`). */
  readonly predicateType: string;
  readonly origin: BuildOrigin;
}

const malformed = (detail: string) => errors.npmProvenanceInvalid(`The provenance bundle is malformed: ${detail}`);

/**
 * The body's provenance attachment as raw JSON text, or undefined when it has none. A `.sigstore` attachment under
 * any other name is refused: silently dropping it would let a publisher believe provenance was attached.
 */
export function provenanceAttachment(body: unknown, name: string, version: string): { data: string; length: number | undefined } | undefined {
  const attachments = isObject(body) && isObject(body._attachments) ? body._attachments : undefined;
  if (!attachments) return undefined;
  const key = provenanceFileName(name, version);
  const stray = Object.keys(attachments).find((k) => k.endsWith('.sigstore') && k !== key);
  if (stray !== undefined) throw malformed(`the attachment is named "${stray.slice(0, 200)}", expected "${key}".`);
  const entry = attachments[key];
  if (entry === undefined) return undefined;
  if (!isObject(entry) || typeof entry.data !== 'string' || entry.data === '') throw malformed(`_attachments["${key}"].data must be the bundle's JSON text.`);
  return { data: entry.data, length: typeof entry.length === 'number' ? entry.length : undefined };
}

/**
 * Parses and checks a bundle against the version being published: bounded size, a sigstore bundle with a DSSE
 * envelope carrying an in-toto statement, one subject naming exactly this package and version, its SHA-512 that of
 * the tarball. Each kind of refusal has its own code (malformed, wrong subject, digest mismatch).
 */
export function checkProvenanceBundle(
  attachment: { data: string; length: number | undefined },
  expected: { name: string; version: string; sha512Hex: string },
): ProvenanceBundle {
  // The cheap bound first: a JS string's length never exceeds its UTF-8 byte length.
  if (attachment.data.length > MAX_PROVENANCE_BUNDLE_BYTES || Buffer.byteLength(attachment.data) > MAX_PROVENANCE_BUNDLE_BYTES) {
    throw errors.npmProvenanceInvalid(`The provenance bundle is larger than ${MAX_PROVENANCE_BUNDLE_BYTES} bytes, the most Wharf stores.`);
  }
  if (attachment.length !== undefined && attachment.length !== attachment.data.length) {
    throw malformed(`the attachment's length ${attachment.length} does not match its data (${attachment.data.length}).`);
  }
  let bundle: unknown;
  try {
    bundle = JSON.parse(attachment.data);
  } catch {
    throw malformed('it is not JSON.');
  }
  if (!isObject(bundle)) throw malformed('it is not a JSON object.');
  if (typeof bundle.mediaType !== 'string' || !BUNDLE_MEDIA_TYPE.test(bundle.mediaType)) throw malformed('"mediaType" is not a sigstore bundle media type.');
  if (!isObject(bundle.verificationMaterial)) throw malformed('"verificationMaterial" is missing.');
  const envelope = bundle.dsseEnvelope;
  if (!isObject(envelope)) throw malformed('"dsseEnvelope" is missing (npm provenance is a DSSE-signed in-toto statement).');
  if (envelope.payloadType !== INTOTO_PAYLOAD_TYPE) throw malformed(`"dsseEnvelope.payloadType" must be "${INTOTO_PAYLOAD_TYPE}".`);
  const signatures = envelope.signatures;
  if (!Array.isArray(signatures) || signatures.length === 0 || !signatures.every((s) => isObject(s) && typeof s.sig === 'string' && s.sig !== '')) {
    throw malformed('"dsseEnvelope.signatures" must list at least one signature.');
  }
  const payload = envelope.payload;
  if (typeof payload !== 'string' || payload === '' || !BASE64.test(payload)) throw malformed('"dsseEnvelope.payload" must be Base64.');
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
  } catch {
    throw malformed('"dsseEnvelope.payload" is not a JSON in-toto statement.');
  }
  if (!isObject(statement) || typeof statement._type !== 'string' || !STATEMENT_TYPES.has(statement._type)) {
    throw malformed('"dsseEnvelope.payload" is not an in-toto statement (v0.1 or v1).');
  }
  const predicateType = statement.predicateType;
  if (typeof predicateType !== 'string' || !predicateType.startsWith(SLSA_PREFIX) || predicateType.length > MAX_SHOWN_CHARS) {
    throw malformed(`the statement's predicateType must be a SLSA provenance type (${SLSA_PREFIX}…).`);
  }
  const subjects = statement.subject;
  // npm itself refuses a bundle with more than one subject (libnpmpublish `verifyProvenance`).
  if (!Array.isArray(subjects) || subjects.length !== 1 || !isObject(subjects[0])) throw malformed('the statement must have exactly one subject.');
  const subject = subjects[0];
  const purl = npmPurl(expected.name, expected.version);
  if (subject.name !== purl) {
    const named = typeof subject.name === 'string' ? JSON.stringify(subject.name.slice(0, 300)) : 'no name';
    throw errors.npmProvenanceSubjectMismatch(`The provenance bundle's subject is ${named}, but this publish is ${purl}.`);
  }
  const digest = isObject(subject.digest) ? subject.digest.sha512 : undefined;
  if (typeof digest !== 'string' || digest.toLowerCase() !== expected.sha512Hex) {
    throw errors.npmProvenanceDigestMismatch(
      `The provenance bundle's subject digest does not match the tarball: it signs sha512 ${typeof digest === 'string' ? digest.slice(0, 128) : '(none)'}, the attached tarball is sha512 ${expected.sha512Hex}.`,
    );
  }
  return { bytes: Buffer.from(attachment.data, 'utf8'), predicateType, origin: buildOrigin(statement.predicate) };
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' && v.length <= MAX_SHOWN_CHARS ? v : undefined);
const at = (v: unknown, ...path: string[]): unknown => path.reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), v);

/**
 * Where the build ran, read defensively from the predicate npm writes: SLSA v1 (GitHub Actions:
 * `buildDefinition.externalParameters.workflow` and `runDetails.metadata.invocationId`) and SLSA v0.2 (GitLab CI:
 * `invocation.parameters.CI_PROJECT_URL` / `CI_JOB_URL`, `metadata.buildInvocationId`). Anything else: unknown.
 * These are the publisher's claims, shown as such; nothing here is trusted for a decision.
 */
export function buildOrigin(predicate: unknown): BuildOrigin {
  const workflow = at(predicate, 'buildDefinition', 'externalParameters', 'workflow');
  const repository = text(at(workflow, 'repository'));
  const path = text(at(workflow, 'path'));
  const ref = text(at(workflow, 'ref'));
  const invocation = text(at(predicate, 'runDetails', 'metadata', 'invocationId'));
  if (repository || invocation) {
    return { source: repository, run: invocation ?? (repository && path ? `${repository}/${path}${ref ? `@${ref}` : ''}`.slice(0, MAX_SHOWN_CHARS) : undefined) };
  }
  const parameters = at(predicate, 'invocation', 'parameters');
  const project = text(at(parameters, 'CI_PROJECT_URL'));
  const job = text(at(parameters, 'CI_JOB_URL')) ?? text(at(predicate, 'metadata', 'buildInvocationId'));
  return { source: project, run: job };
}
