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
}

const SECRET_PARAM = /(^|[?&])((?:private_|access_|bearer_|job_|deploy_)?token|password|secret)=[^&#]*/gi;

export const redactUrl = (url: string): string => (url.includes('=') ? url.replace(SECRET_PARAM, '$1$2=[REDACTED]') : url);

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
    const level = line.status >= 500 ? ERROR : INFO;
    if (level < this.#threshold) return;
    // Field by field, strings through JSON.stringify: the same text as stringifying the object, at half the cost.
    const text =
      `{"level":${level},"time":${Date.now()}${this.#prefix}"reqId":${JSON.stringify(line.reqId)},"method":${JSON.stringify(line.method)},` +
      `"url":${JSON.stringify(redactUrl(line.url))},"route":${line.route === null ? 'null' : JSON.stringify(line.route)},"status":${line.status},` +
      `"durationMs":${Math.round(line.durationMs * 100) / 100}${line.remoteAddress === undefined ? '' : `,"remoteAddress":${JSON.stringify(line.remoteAddress)}`}` +
      `${line.hot ? ',"hot":true' : ''},"msg":"request"}\n`;
    this.#stream.write(text);
  }
}
