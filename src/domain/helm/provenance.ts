/**
 * Helm provenance files (`<chart>.tgz.prov`, docs/design/client-protocols.md#provenance-files): an OpenPGP clear-signed message whose body is the
 * chart's metadata as YAML, a `...` line, then `files:` mapping archive names to `sha256:<hex>`.
 *
 * Wharf stores them byte for byte and never checks the signature (that is `helm verify`'s job, with the user's
 * keyring). It reads the signed body only to learn which chart version a file belongs to (ChartMuseum does the same
 * from the `name:`/`version:` lines) and which archive digest it vouches for, so that a provenance file is never
 * served next to a chart it does not sign.
 */
import { errors } from '../errors.js';
import { decodeYamlText, parseSafeYaml } from './chart-yaml.js';
import { chartFileName } from './rules.js';

/** Real provenance files are about 1 KB; this leaves room for a large `Chart.yaml` inside one. */
export const MAX_PROVENANCE_BYTES = 2 * 1024 * 1024;

export interface Provenance {
  name: string;
  version: string;
  /** Archive file name → `sha256:<hex>`, as signed. */
  files: Record<string, string>;
}

const BEGIN_MESSAGE = '-----BEGIN PGP SIGNED MESSAGE-----';
const BEGIN_SIGNATURE = '-----BEGIN PGP SIGNATURE-----';
const END_SIGNATURE = '-----END PGP SIGNATURE-----';

const refuse = (detail: string) => errors.helmProvenanceInvalid(`The provenance file is invalid: ${detail}`);

export function parseProvenance(bytes: Uint8Array): Provenance {
  if (bytes.length > MAX_PROVENANCE_BYTES) throw errors.helmProvenanceInvalid('Provenance file is too large');
  const text = decodeYamlText(bytes, refuse).replace(/\r\n/g, '\n');
  const start = text.indexOf(`${BEGIN_MESSAGE}\n`);
  if (start < 0 || text.slice(0, start).trim() !== '') throw refuse('it is not an OpenPGP clear-signed message');
  // Armor headers (`Hash: SHA512`) end at the first empty line; the signed text follows.
  const headersEnd = text.indexOf('\n\n', start);
  const signatureStart = text.indexOf(`\n${BEGIN_SIGNATURE}\n`, start);
  if (headersEnd < 0 || signatureStart < 0 || headersEnd > signatureStart || !text.includes(END_SIGNATURE, signatureStart)) {
    throw refuse('it is not an OpenPGP clear-signed message');
  }
  // RFC 4880 §7.1: lines of the signed text that start with `-` are dash-escaped as `- -…`.
  const body = text
    .slice(headersEnd + 2, signatureStart)
    .split('\n')
    .map((line) => (line.startsWith('- ') ? line.slice(2) : line));
  const separator = body.indexOf('...');
  if (separator < 0) throw refuse('the signed text has no `...` line between the chart metadata and the file digests');
  const metadata = parseSafeYaml(body.slice(0, separator).join('\n'), (d) => refuse(`chart metadata: ${d}`));
  const hashes = parseSafeYaml(body.slice(separator + 1).join('\n'), (d) => refuse(`file digests: ${d}`));
  const name = field(metadata, 'name');
  const version = field(metadata, 'version');
  const filesValue = typeof hashes === 'object' && hashes !== null ? (hashes as Record<string, unknown>).files : undefined;
  if (typeof filesValue !== 'object' || filesValue === null || Array.isArray(filesValue)) {
    throw refuse('the signed text has no `files:` mapping');
  }
  const files: Record<string, string> = {};
  for (const [file, digest] of Object.entries(filesValue)) {
    if (typeof digest !== 'string') throw refuse(`the digest of ${file} is not a string`);
    Object.defineProperty(files, file, { value: digest, enumerable: true, writable: true, configurable: true });
  }
  return { name, version, files };
}

function field(metadata: unknown, key: 'name' | 'version'): string {
  const value = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)[key] : undefined;
  if (typeof value !== 'string' || value === '') throw refuse(`the signed chart metadata has no ${key}`);
  return value;
}

/**
 * The archive digest a provenance file vouches for: the one listed under `<name>-<version>.tgz`, the name `helm
 * verify` looks up after `helm pull --verify` saved the chart under its URL's last segment.
 */
export function signedSha256(prov: Provenance): string | undefined {
  const digest = Object.hasOwn(prov.files, chartFileName(prov.name, prov.version))
    ? prov.files[chartFileName(prov.name, prov.version)]
    : undefined;
  const m = digest ? /^sha256:([0-9a-fA-F]{64})$/.exec(digest) : null;
  return m?.[1]?.toLowerCase();
}
