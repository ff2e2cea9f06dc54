/**
 * The npm publish document (`PUT P/:package_name`, docs/design/gitlab-compatibility.md#npm-publish, docs/design/client-protocols.md#npm-publish) read and checked without
 * I/O. The publish service calls these in GitLab's order (docs/design/gitlab-compatibility.md#publish-checks), interleaved with the checks that need the
 * database; each refusal carries GitLab's message where GitLab has one, and a precise one where GitLab crashes.
 */
import { createHash } from 'node:crypto';
import { errors } from '../errors.js';
import { isStrictSemver, isValidNpmName, NAME_MESSAGE, tarballFileName, VERSION_MESSAGE } from './names.js';
import { cleanVersion } from './versions.js';
import { INSTALL_FIELDS, installFieldsOf, scriptsAsNpmSendsThem, type TarballFacts } from './manifest.js';

export type { TarballFacts } from './manifest.js';

type Json = Record<string, unknown>;

export const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a publish body asks for, once its shape is known to be right. */
export interface PublishDocument {
  /** The body's `name` (GitLab trusts it; Wharf also requires it to equal the URL's). */
  readonly name: string;
  readonly version: string;
  readonly versionData: Json;
  /** The first key of `dist-tags`; `latest` when the body has none. */
  readonly distTag: string;
  /** `_attachments["<name>-<version>.tgz"]`. */
  readonly attachmentKey: string;
  readonly attachmentData: string;
  /** The client's claimed byte length, when it sent one. */
  readonly attachmentLength: number | undefined;
  readonly readme: string | undefined;
  readonly readmeFilename: string | undefined;
}

/**
 * The structural checks (GitLab's 0b, 2 and 3): a JSON object with exactly one version and that version's tarball
 * attached under `<name>-<version>.tgz`. GitLab answers several of these malformed bodies with a 500; a 400 that
 * says what is wrong is more use to whoever hand-crafted the request.
 */
export function readPublishDocument(body: unknown): PublishDocument {
  if (!isPlainObject(body)) throw errors.npmPublishInvalid('Invalid json: the publish body must be a JSON object.');
  const versions = body.versions;
  if (versions === undefined || versions === null) throw errors.npmPublishInvalid('Versions key is missing from the JSON upload');
  if (!isPlainObject(versions)) throw errors.npmPublishInvalid('Invalid json: "versions" must be an object of version → manifest.');
  const keys = Object.keys(versions);
  const version = keys[0];
  if (version === undefined || version.trim() === '') throw errors.npmPublishInvalid('Version is empty.');
  if (keys.length > 1) {
    throw errors.npmPublishInvalid(`Only one version can be published at a time; the body has ${keys.length}: ${keys.slice(0, 5).join(', ')}.`);
  }
  const versionData = versions[version];
  if (!isPlainObject(versionData)) throw errors.npmPublishInvalid(`Invalid json: "versions"."${version}" must be an object.`);
  // Without a name the attachment key cannot even be computed; say so rather than "attachment missing".
  if (typeof body.name !== 'string' || body.name.trim() === '') throw errors.npmPublishInvalid(`Validation failed: ${NAME_MESSAGE}`);
  const name = body.name;

  const distTags = body['dist-tags'];
  const firstTag = isPlainObject(distTags) ? Object.keys(distTags)[0] : undefined;
  const distTag = firstTag !== undefined && firstTag.trim() !== '' ? firstTag : 'latest';

  const attachmentKey = tarballFileName(name, version);
  const attachments = isPlainObject(body._attachments) ? body._attachments : {};
  const attachment = attachments[attachmentKey];
  if (!isPlainObject(attachment) || typeof attachment.data !== 'string' || attachment.data === '') {
    const offered = Object.keys(attachments).filter((k) => k.endsWith('.tgz'));
    const hint = offered.length ? ` (found ${offered.slice(0, 3).map((k) => `"${k}"`).join(', ')})` : '';
    throw errors.npmPublishInvalid(`Attachment data is empty. Expected the tarball in _attachments["${attachmentKey}"]${hint}.`);
  }
  const readme = typeof versionData.readme === 'string' ? versionData.readme : typeof body.readme === 'string' ? body.readme : undefined;
  const readmeFilename =
    typeof versionData.readmeFilename === 'string' ? versionData.readmeFilename : typeof body.readmeFilename === 'string' ? body.readmeFilename : undefined;
  return {
    name,
    version,
    versionData,
    distTag,
    attachmentKey,
    attachmentData: attachment.data,
    attachmentLength: typeof attachment.length === 'number' ? attachment.length : undefined,
    readme,
    readmeFilename,
  };
}

/**
 * GitLab computes the size from the Base64 text, ignoring the client's `length` (a faked small length must not
 * slip a large file past the limit).
 */
export function decodedSizeOf(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/** `PACKAGE_JSON_NOT_ALLOWED_FIELDS`: dropped before storing; the readme is kept separately. */
const NOT_STORED_FIELDS = ['readme', 'readmeFilename', 'licenseText', 'contributors', 'exports'];
/** `MAX_PACKAGE_JSON_SIZE`. */
export const MAX_PACKAGE_JSON_SIZE = 20_000;

/** The version object as GitLab stores it (without readme and the other bulky fields). */
export function strippedVersionData(versionData: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(versionData)) if (!NOT_STORED_FIELDS.includes(k)) out[k] = v;
  return out;
}

/**
 * GitLab's model validations (8a, 8b, 8d, 8e) plus Wharf's consistency rule: the URL's name, the body's name and
 * the version object's name and version all agree (npm, pnpm and yarn always send them equal; a mismatch is a
 * hand-made request that would otherwise store a version under a name its tarball URL does not match).
 */
export function validatePublishDocument(doc: PublishDocument, urlName: string): void {
  if (!isValidNpmName(doc.name)) throw errors.npmPublishInvalid(`Validation failed: ${NAME_MESSAGE}`);
  if (!isStrictSemver(doc.version)) throw errors.npmPublishInvalid(`Validation failed: ${VERSION_MESSAGE}`);
  if (doc.name !== urlName) {
    throw errors.npmPublishInvalid(`Validation failed: the package name in the URL ("${urlName}") differs from the body's name ("${doc.name}").`);
  }
  const data = doc.versionData;
  if (data.name !== doc.name || data.version !== doc.version) {
    throw errors.npmPublishInvalid(
      `Validation failed: versions["${doc.version}"] must have name "${doc.name}" and version "${doc.version}".`,
    );
  }
  const stored = strippedVersionData(data);
  if (JSON.stringify(stored).length >= MAX_PACKAGE_JSON_SIZE) {
    throw errors.npmPublishInvalid(`Validation failed: Package json structure is too large. Maximum size is ${MAX_PACKAGE_JSON_SIZE} characters`);
  }
  // The `npm_package_json` JSON schema: name, version and dist {tarball, shasum} are required.
  const dist = data.dist;
  if (!isPlainObject(dist) || typeof dist.tarball !== 'string' || typeof dist.shasum !== 'string') {
    throw errors.npmPublishInvalid('Validation failed: Package json must be a valid json schema (dist.tarball and dist.shasum are required)');
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict Base64: `Buffer.from(…, 'base64')` would silently skip garbage and store something else. */
export function decodeAttachment(data: string): Buffer {
  if (data.length % 4 !== 0 || !BASE64.test(data)) throw errors.npmPublishInvalid('Attachment data is not valid base64.');
  return Buffer.from(data, 'base64');
}

export interface Digests {
  /** Hex. */
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
}

export function digestsOf(bytes: Buffer): Digests {
  const hex = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
  return { sha1: hex('sha1'), sha256: hex('sha256'), sha512: hex('sha512') };
}

/** `sha512-<base64>`, the SRI string npm verifies downloads with. */
export const integrityOf = (sha512Hex: string): string => `sha512-${Buffer.from(sha512Hex, 'hex').toString('base64')}`;

const SRI_STRENGTH: Record<string, number> = { sha1: 1, sha256: 2, sha384: 3, sha512: 4 };

/**
 * Stricter than GitLab (which checks nothing): the client's `dist.shasum` and `dist.integrity` must describe the
 * bytes actually attached, and so must `length` when sent — otherwise installs would fail later with EINTEGRITY.
 * Per SRI, the strongest algorithm listed decides; any of its entries may match.
 */
export function verifyAttachment(doc: PublishDocument, bytes: Buffer, digests: Digests): void {
  if (doc.attachmentLength !== undefined && doc.attachmentLength !== bytes.length) {
    throw errors.npmPublishInvalid(`Attachment length ${doc.attachmentLength} does not match the decoded data (${bytes.length} bytes).`);
  }
  const dist = doc.versionData.dist as Json;
  const shasum = String(dist.shasum).toLowerCase();
  if (shasum !== digests.sha1) {
    throw errors.npmPublishInvalid(`dist.shasum ${String(dist.shasum)} does not match the attached tarball (SHA-1 ${digests.sha1}).`);
  }
  if (dist.integrity === undefined || dist.integrity === null) return;
  if (typeof dist.integrity !== 'string') throw errors.npmPublishInvalid('dist.integrity must be a Subresource Integrity string.');
  const entries = dist.integrity
    .trim()
    .split(/\s+/)
    .map((token) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(?:\?.*)?$/.exec(token))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ algorithm: m[1]!, digest: m[2]! }));
  if (entries.length === 0) throw errors.npmPublishInvalid(`dist.integrity "${dist.integrity}" names no supported hash (sha512, sha384, sha256, sha1).`);
  const strongest = Math.max(...entries.map((e) => SRI_STRENGTH[e.algorithm]!));
  const candidates = entries.filter((e) => SRI_STRENGTH[e.algorithm] === strongest);
  const algorithm = candidates[0]!.algorithm;
  const actual =
    algorithm === 'sha512'
      ? Buffer.from(digests.sha512, 'hex').toString('base64')
      : algorithm === 'sha1'
        ? Buffer.from(digests.sha1, 'hex').toString('base64')
        : createHash(algorithm).update(bytes).digest('base64');
  if (!candidates.some((c) => c.digest === actual)) {
    throw errors.npmPublishInvalid(`dist.integrity does not match the attached tarball (${algorithm}-${actual}).`);
  }
}

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, value: unknown) =>
    isPlainObject(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : value,
  );

/**
 * GitLab's `CheckManifestCoherenceService`: the tarball's own `package.json` must agree with the publish body on
 * name, version and scripts — otherwise what `npm install` runs is not what the registry shows. The comparison
 * allows exactly the rewrites npm itself makes between `package.json` and the body (cleaned version, implied
 * scripts), and nothing else.
 */
export function checkManifestCoherence(doc: PublishDocument, facts: TarballFacts): void {
  const m = facts.manifest;
  const problem = (detail: string) => errors.npmPublishInvalid(`Package manifest is not coherent: ${detail}`);
  const tarName = typeof m.name === 'string' ? m.name.trim() : undefined;
  if (tarName !== doc.name) throw problem(`the tarball's package.json has name ${JSON.stringify(m.name)}, the publish body "${doc.name}".`);
  const tarVersion = typeof m.version === 'string' ? m.version : undefined;
  if (tarVersion === undefined || (tarVersion !== doc.version && cleanVersion(tarVersion) !== doc.version)) {
    throw problem(`the tarball's package.json has version ${JSON.stringify(m.version)}, the publish body "${doc.version}".`);
  }
  const bodyScripts = isPlainObject(doc.versionData.scripts) ? doc.versionData.scripts : {};
  const rawScripts = isPlainObject(m.scripts) ? m.scripts : {};
  const same = canonical(bodyScripts) === canonical(rawScripts) || canonical(bodyScripts) === canonical(scriptsAsNpmSendsThem(m, facts) ?? {});
  if (!same) throw problem("the scripts in the tarball's package.json differ from the publish body's.");
}

const CLIENT_UNDERSCORE_FIELDS = ['_nodeVersion', '_npmVersion'];

export interface StoredVersionExtras {
  readonly digests: Digests;
  readonly fileCount: number;
  readonly unpackedSize: number;
  /** The tarball's own `package.json` and files: the source of every install-relevant field. */
  readonly tarball: TarballFacts;
}

/**
 * The version object kept in `npm_metadata`: the client's manifest without the bulky fields, with `dist` replaced
 * by what the server computed (the client's `dist.tarball` is wrong by design, docs/design/client-protocols.md#publish-body), and every
 * install-relevant field (dependencies, scripts, `bin`, engines, os/cpu/libc…, `hasInstallScript`,
 * `_hasShrinkwrap`) taken from the tarball's own `package.json`, so the packument describes what an install of the
 * tarball does. The tarball URL is added when a packument is built, because it depends on the configured
 * external URL.
 */
export function storedVersion(doc: PublishDocument, extras: StoredVersionExtras): Json {
  const out = strippedVersionData(doc.versionData);
  // A publish is not a deprecation; deprecations go through `npm deprecate` so the status follows them.
  delete out.deprecated;
  // Underscore fields are the registry's (`_resolved`, `_integrity`, `_from`, `_shasum`… describe where a copy came
  // from); a client's claims there are dropped, bar the informational tool versions npm sends.
  for (const key of Object.keys(out)) if (key.startsWith('_') && !CLIENT_UNDERSCORE_FIELDS.includes(key)) delete out[key];
  out._id = `${doc.name}@${doc.version}`;
  for (const field of INSTALL_FIELDS) delete out[field];
  Object.assign(out, installFieldsOf(extras.tarball));
  // The tarball's package.json may hold far more than the body did; the stored document keeps GitLab's bound.
  if (JSON.stringify(out).length >= MAX_PACKAGE_JSON_SIZE) {
    throw errors.npmPublishInvalid(`Validation failed: Package json structure is too large. Maximum size is ${MAX_PACKAGE_JSON_SIZE} characters`);
  }
  out.dist = {
    integrity: integrityOf(extras.digests.sha512),
    shasum: extras.digests.sha1,
    fileCount: extras.fileCount,
    unpackedSize: extras.unpackedSize,
  };
  return out;
}
