/**
 * OCI distribution paths and names (docs/design/helm-oci.md#names): what a `/v2/…` path asks for, which project and
 * chart a repository name stands for, digests, and chart versions as tags.
 */
import { isValidChartName } from '../helm/rules.js';

/** The spec's repository name grammar (one path component). */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const SHA256_DIGEST = /^sha256:([a-f0-9]{64})$/;
/** The spec's digest grammar: any algorithm, so that an unsupported one is told apart from garbage. */
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export type OciTarget =
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'upload'; name: string; uuid?: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string };

/**
 * What the path after `/v2/` asks for, or undefined when it is no OCI endpoint. The name may hold slashes, so the
 * endpoint is found from the end: `<name>/blobs/uploads/[<uuid>]`, `<name>/blobs/<digest>`,
 * `<name>/manifests/<reference>`, `<name>/tags/list`, `<name>/referrers/<digest>`.
 */
export function parseOciPath(rest: string): OciTarget | undefined {
  const parts = rest.split('/');
  const n = parts.length;
  const nameOf = (drop: number): string | undefined => {
    const name = parts.slice(0, n - drop).join('/');
    return name === '' ? undefined : name;
  };
  if (n >= 3 && parts[n - 2] === 'blobs' && parts[n - 1] === 'uploads') {
    const name = nameOf(2);
    return name ? { kind: 'upload', name } : undefined;
  }
  if (n >= 4 && parts[n - 3] === 'blobs' && parts[n - 2] === 'uploads') {
    const name = nameOf(3);
    const uuid = parts[n - 1]!;
    if (!name) return undefined;
    return uuid === '' ? { kind: 'upload', name } : { kind: 'upload', name, uuid };
  }
  if (n >= 3 && parts[n - 2] === 'blobs') {
    const name = nameOf(2);
    return name ? { kind: 'blob', name, digest: parts[n - 1]! } : undefined;
  }
  if (n >= 3 && parts[n - 2] === 'manifests') {
    const name = nameOf(2);
    return name ? { kind: 'manifest', name, reference: parts[n - 1]! } : undefined;
  }
  if (n >= 3 && parts[n - 2] === 'tags' && parts[n - 1] === 'list') {
    const name = nameOf(2);
    return name ? { kind: 'tags', name } : undefined;
  }
  if (n >= 3 && parts[n - 2] === 'referrers') {
    const name = nameOf(2);
    return name ? { kind: 'referrers', name, digest: parts[n - 1]! } : undefined;
  }
  return undefined;
}

export interface RepositoryName {
  /** The project's full path: the name without its last component. */
  projectPath: string;
  /** The chart: the last component (chart names hold no slash). */
  chart: string;
}

/**
 * `<project full path>/<chart>`, or undefined when the name breaks the spec's grammar or its last component is no
 * valid chart name. Chart names never hold a `/`, so the longest prefix that can be a project is the rest.
 */
export function splitRepositoryName(name: string): RepositoryName | undefined {
  if (name.length > 255) return undefined;
  const parts = name.split('/');
  if (parts.length < 2 || !parts.every((p) => COMPONENT.test(p))) return undefined;
  const chart = parts.pop()!;
  if (!isValidChartName(chart)) return undefined;
  return { projectPath: parts.join('/'), chart };
}

export type DigestCheck = { ok: true; sha256: string } | { ok: false; reason: 'invalid' | 'unsupported' };

/** `sha256:<64 hex>` is the only algorithm stored (the blob store's key); any other well-formed one is unsupported. */
export function checkDigest(digest: string): DigestCheck {
  const m = SHA256_DIGEST.exec(digest);
  if (m) return { ok: true, sha256: m[1]! };
  return { ok: false, reason: ANY_DIGEST.test(digest) ? 'unsupported' : 'invalid' };
}

export const ociDigest = (sha256: string): string => `sha256:${sha256}`;

export const isTag = (reference: string): boolean => TAG.test(reference);

/** A chart version as an OCI tag: `+` is not allowed in tags, Helm writes it `_`. */
export const versionToTag = (version: string): string => version.replaceAll('+', '_');
export const tagToVersion = (tag: string): string => tag.replaceAll('_', '+');

export type ContentRange = { start: number; end: number };

/** A PATCH's `Content-Range: <start>-<end>` (the spec's form, no unit), or undefined when malformed. */
export function parseContentRange(value: string): ContentRange | undefined {
  const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && end >= start ? { start, end } : undefined;
}

export type ByteRange = { start: number; end: number } | 'unsatisfiable';

/** A single `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`; undefined means the whole blob. */
export function parseRange(value: string | undefined, size: number): ByteRange | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
