/**
 * The one access line per request, in the same JSON shape pino writes (`level`, `time`, `pid`, `hostname`, the
 * fields, `msg`) and to the same stream, but serialised directly: it is written for every request, and going
 * through the logger (child bindings, serializers, redaction paths) cost a quarter of the CPU of a small answer.
 * The line holds only fields built here — the URL with token-like query parameters masked — so no redaction is
 * needed; everything else Wharf logs still goes through pino and its redaction.
 */
import os from 'node:os';
import pino, { type DestinationStream } from 'pino';

export interface AccessLine {
  reqId: string;
  method: string;
  url: string;
  route: string | null;
  status: number;
  durationMs: number;
  remoteAddress: string | undefined;
  /** Answered by the hot lane (`hot-lane.ts`) rather than by a route handler. */
  hot?: true;
  /** The error catalogue's code when the answer is an error (`package_protected`, `not_found`, …). */
  code?: string;
}

const kErrorCode = Symbol('wharf.errorCode');
type Coded = { [kErrorCode]?: string };

/**
 * Called where an error becomes the answer: the access line of this reply carries the error's catalogue code, so
 * operators can count refusals by kind. Only error answers pay for it (one property on the reply).
 */
export const noteErrorCode = (reply: object, code: string): void => {
  (reply as Coded)[kErrorCode] = code;
};

export const errorCodeOf = (reply: object): string | undefined => (reply as Coded)[kErrorCode];

/** What `AccessLog.prepare` returns: the line's level and its method-to-status fields, serialised. */
export interface PreparedLine {
  readonly level: number;
  readonly text: string;
}

/**
 * Query parameter names whose values are secrets, compared after percent-decoding and in any case: the query parser
 * decodes names, so `?private%5Ftoken=…` and `?%70rivate_token=…` are read as `private_token` and accepted as
 * credentials; the log must mask them as well as the plain spelling.
 */
const SECRET_NAME = /^(?:(?:private|access|bearer|job|deploy)_)?token$|^password$|^secret$/;

/** `npm logout` names the token it revokes in the path (`…/-/user/token/<token>`). */
const TOKEN_SEGMENT = /(\/-\/user\/token\/)[^/?#]*/g;

const decodedName = (raw: string): string => {
  // `[]` suffixes (`token[]=…`) and `+` for space as the form encoding has them; a malformed escape stays as is.
  let name = raw.replace(/\+/g, ' ');
  if (name.includes('%')) {
    try {
      name = decodeURIComponent(name);
    } catch {
      name = name.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  }
  return name.trim().replace(/(?:\[\])+$/, '').toLowerCase();
};

const redactQuery = (query: string): string => {
  let changed = false;
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (SECRET_NAME.test(decodedName(part.slice(0, eq)))) {
      parts[i] = `${part.slice(0, eq)}=[REDACTED]`;
      changed = true;
    }
  }
  return changed ? parts.join('&') : query;
};

export const redactUrl = (url: string): string => {
  let out = url;
  const q = out.indexOf('?');
  if (q >= 0 && out.includes('=', q)) {
    const hash = out.indexOf('#', q);
    const end = hash < 0 ? out.length : hash;
    out = out.slice(0, q + 1) + redactQuery(out.slice(q + 1, end)) + out.slice(end);
  }
  if (out.includes('/-/user/token/')) out = out.replace(TOKEN_SEGMENT, '$1[REDACTED]');
  return out;
};

const INFO = pino.levels.values.info!;
const ERROR = pino.levels.values.error!;

export class AccessLog {
  readonly #stream: DestinationStream;
  readonly #threshold: number;
  readonly #prefix = `,"pid":${process.pid},"hostname":${JSON.stringify(os.hostname())},`;

  /** `level` is the configured log level: below it nothing is written (5xx lines are at `error`, others `info`). */
  constructor(stream: DestinationStream, level: string) {
    this.#stream = stream;
    this.#threshold = level === 'silent' ? Infinity : (pino.levels.values[level] ?? INFO);
  }

  write(line: AccessLine): void {
    if ((line.status >= 500 ? ERROR : INFO) < this.#threshold) return;
    this.writePrepared(this.prepare(line.method, line.url, line.route, line.status, line.code), line.reqId, line.durationMs, line.remoteAddress, line.hot);
  }

  /**
   * The part of a line that method, URL, route and status fix, serialised once: the hot lane keeps one with each
   * answer it replays, so a replayed request only adds its id, duration and address.
   */
  prepare(method: string, url: string, route: string | null, status: number, code?: string): PreparedLine {
    return {
      level: status >= 500 ? ERROR : INFO,
      text:
        `"method":${JSON.stringify(method)},"url":${JSON.stringify(redactUrl(url))},"route":${route === null ? 'null' : JSON.stringify(route)},"status":${status},` +
        (code === undefined ? '' : `"code":${JSON.stringify(code)},`),
    };
  }

  writePrepared(prepared: PreparedLine, reqId: string, durationMs: number, remoteAddress: string | undefined, hot?: true): void {
    if (prepared.level < this.#threshold) return;
    // Field by field, strings through JSON.stringify: the same text as stringifying the object, at half the cost.
    this.#stream.write(
      `{"level":${prepared.level},"time":${Date.now()}${this.#prefix}"reqId":${JSON.stringify(reqId)},${prepared.text}` +
        `"durationMs":${Math.round(durationMs * 100) / 100}${remoteAddress === undefined ? '' : `,"remoteAddress":${JSON.stringify(remoteAddress)}`}` +
        `${hot ? ',"hot":true' : ''},"msg":"request"}\n`,
    );
  }
}
