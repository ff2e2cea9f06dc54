/**
 * Reading JSON bodies with bounded memory and bounded nesting.
 *
 * - Nesting: `JSON.parse` copes with any depth, but whatever walks the result recursively afterwards
 *   (`JSON.stringify`, presenters, validators) overflows the stack on a few hundred thousand `[`. The depth is
 *   measured on the raw bytes before parsing, and a body nested deeper than `MAX_JSON_DEPTH` is a 400.
 * - Memory: an npm publish body is a small manifest around one huge Base64 string (the tarball). Parsed the usual
 *   way it exists as received chunks, one concatenated buffer, one body-sized string and the string `JSON.parse`
 *   copies out of it. Here the bytes are collected into one buffer (sized from Content-Length when it is given),
 *   the `_attachments.<file>.data` strings are cut out of it as one-byte strings, and only the small rest goes
 *   through `JSON.parse`.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { errors } from '../../domain/errors.js';

/** Far deeper than any package.json, settings document or API body in use; shallow enough for recursive walkers. */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Keys longer than this are never one of the names the scan looks for. */
const MAX_TRACKED_KEY = 256;

export interface JsonScan {
  /** The nesting exceeded the limit (the scan stopped there). */
  readonly tooDeep: boolean;
  /** `[start, end)` of the contents of every `_attachments.<file>.data` string at the top level. */
  readonly attachmentSpans: ReadonlyArray<readonly [number, number]>;
}

/**
 * One pass over the bytes, without building anything: nesting depth, and where the attachment strings are.
 * Strings are skipped with `indexOf` (native speed over a multi-megabyte Base64 string). It does not validate;
 * `JSON.parse` does that afterwards on what is left.
 */
export function scanJson(buf: Buffer, maxDepth: number = MAX_JSON_DEPTH): JsonScan {
  const spans: Array<readonly [number, number]> = [];
  // Per open container (index = depth): is it an object, does it expect a key next, its current key.
  const isObject: boolean[] = [false];
  const expectKey: boolean[] = [false];
  const keys: Array<string | null> = [null];
  let depth = 0;
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const c = buf[i]!;
    if (c === QUOTE) {
      let end = i + 1;
      for (;;) {
        end = buf.indexOf(QUOTE, end);
        if (end === -1) return { tooDeep: false, attachmentSpans: spans }; // unterminated: JSON.parse reports it
        let backslashes = 0;
        while (buf[end - 1 - backslashes] === BACKSLASH && end - 1 - backslashes > i) backslashes++;
        if (backslashes % 2 === 0) break;
        end++;
      }
      if (depth > 0 && isObject[depth] && expectKey[depth]) {
        keys[depth] = end - i - 1 <= MAX_TRACKED_KEY ? buf.toString('latin1', i + 1, end) : null;
        expectKey[depth] = false;
      } else if (
        depth === 3 &&
        isObject[1] && keys[1] === '_attachments' &&
        isObject[2] && keys[2] !== null &&
        isObject[3] && keys[3] === 'data'
      ) {
        spans.push([i + 1, end]);
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) return { tooDeep: true, attachmentSpans: [] };
      isObject[depth] = c === OPEN_OBJECT;
      expectKey[depth] = c === OPEN_OBJECT;
      keys[depth] = null;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (c === COMMA) {
      if (depth > 0 && isObject[depth]) expectKey[depth] = true;
    }
    i++;
  }
  return { tooDeep: false, attachmentSpans: spans };
}

/** True when the bytes are only JSON whitespace (or none). */
export function isBlank(buf: Buffer): boolean {
  for (const c of buf) if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  return true;
}

/** The contents of a JSON string as the string `JSON.parse` would give, read without copying the whole body. */
function stringAt(buf: Buffer, start: number, end: number): string {
  const escaped = buf.indexOf(BACKSLASH, start);
  // Base64 needs no escapes: the common case is a one-byte string straight from the bytes.
  if (escaped === -1 || escaped >= end) return buf.toString('latin1', start, end);
  return JSON.parse(`"${buf.toString('utf8', start, end)}"`) as string;
}

export type TextJsonParser = (text: string) => unknown;

/**
 * Parses `buf` as JSON with the depth bound, lifting attachment strings out of the text first (only npm bodies
 * have them, and only where npm puts them). `parse` is the framework's parser (prototype-poisoning checks).
 */
export function parseJsonBuffer(buf: Buffer, parse: TextJsonParser, options: { attachments?: boolean; tooDeep?: () => Error } = {}): unknown {
  const scan = scanJson(buf);
  if (scan.tooDeep) throw (options.tooDeep ?? (() => errors.jsonTooDeep(MAX_JSON_DEPTH)))();
  const spans = options.attachments ? scan.attachmentSpans : [];
  if (spans.length === 0) return parse(buf.toString('utf8'));
  // A placeholder no client can predict stands in for each string while the small rest is parsed.
  const marker = `wharf-attachment-${randomUUID()}-`;
  const parts: string[] = [];
  let at = 0;
  spans.forEach(([start, end], index) => {
    parts.push(buf.toString('utf8', at, start), `${marker}${index}`);
    at = end;
  });
  parts.push(buf.toString('utf8', at));
  const doc = parse(parts.join(''));
  const attachments = (doc as { _attachments?: unknown } | null)?._attachments;
  if (attachments && typeof attachments === 'object') {
    for (const entry of Object.values(attachments as Record<string, unknown>)) {
      if (!entry || typeof entry !== 'object') continue;
      const holder = entry as { data?: unknown };
      if (typeof holder.data !== 'string' || !holder.data.startsWith(marker)) continue;
      const span = spans[Number(holder.data.slice(marker.length))];
      if (span) holder.data = stringAt(buf, span[0], span[1]);
    }
  }
  return doc;
}

type CountingStream = Readable & { receivedEncodedLength?: number };

/**
 * The request body as one buffer, at most `limit` bytes. With a Content-Length the buffer is allocated once and
 * filled as chunks arrive (no second copy); otherwise chunks are joined at the end. Fastify's own checks are kept:
 * more than `limit` bytes (decoded, or encoded when a pre-parsing stream inflates) is a 413, and a body shorter or
 * longer than its Content-Length a 400.
 */
export function collectBody(request: FastifyRequest, payload: CountingStream, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  return new Promise((resolve, reject) => {
    const tooLarge = Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    if (declared > limit) return reject(tooLarge);
    // Sized from Content-Length only when nothing inflates the body on the way (a gzip audit body would not fit).
    const preallocated = Number.isSafeInteger(declared) && declared > 0 && payload === request.raw ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (received + bytes.length > limit || (payload.receivedEncodedLength ?? 0) > limit) {
        cleanup();
        return reject(tooLarge);
      }
      if (preallocated) {
        if (received + bytes.length > preallocated.length) {
          cleanup();
          return reject(Object.assign(new Error('Content-Length does not match the body'), { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }));
        }
        bytes.copy(preallocated, received);
      } else {
        chunks.push(bytes);
      }
      received += bytes.length;
    };
    const onEnd = () => {
      cleanup();
      if (!Number.isNaN(declared) && (payload.receivedEncodedLength || received) !== declared) {
        return reject(Object.assign(new Error('Content-Length does not match the body'), { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }));
      }
      resolve(preallocated ? preallocated.subarray(0, received) : Buffer.concat(chunks, received));
    };
    const onError = (err: Error & { statusCode?: number }) => {
      cleanup();
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      reject(err);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}
