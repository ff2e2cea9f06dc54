/**
 * The npm proxy's HTTP client for the upstream registry: bounded in time and size, and careful with the token.
 *
 * - Packuments: `GET <upstream>/<escaped name>` with `Accept: application/json` (the full document: the
 *   abbreviated one is derived from it, so one fetch serves both), conditional on the stored validators. Redirects
 *   are refused: a registry answers its documents itself, and a redirect could lead the token anywhere.
 * - Tarballs: `GET <url from the packument>`, which must be on the upstream's origin. Up to three redirects are
 *   followed (registries put tarballs behind CDNs), the token only ever sent to the upstream's own origin.
 * - Time: a deadline for the response headers, and an idle deadline between body chunks.
 * - Size: packument bodies are read up to a cap (decompressed, so a gzip bomb stops there); tarballs up to
 *   `npm_max_file_size`, enforced while streaming by the caller.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { escapedName } from '../../../domain/npm/proxy.js';

/** A packument larger than this is refused (npm's largest public packuments are a few tens of MB). */
export const MAX_PACKUMENT_BYTES = 128 * 1024 * 1024;
const HEADERS_TIMEOUT_MS = 30_000;
const IDLE_TIMEOUT_MS = 30_000;
const MAX_TARBALL_REDIRECTS = 3;

export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export type PackumentFetch =
  | { readonly kind: 'ok'; readonly body: Buffer; readonly etag: string | null; readonly lastModified: string | null }
  | { readonly kind: 'not-modified'; readonly etag: string | null; readonly lastModified: string | null }
  | { readonly kind: 'not-found' };

export type TarballFetch = { readonly kind: 'ok'; readonly body: Readable; readonly size: number | undefined } | { readonly kind: 'not-found' };

export interface UpstreamRequestOptions {
  readonly token: string | null;
  /** A response whose `Content-Length` says more than this is refused before its body is read. */
  readonly maxBytes: number;
}

export interface UpstreamClientOptions {
  /** Replaces the global fetch (tests). */
  readonly fetch?: typeof fetch;
  readonly userAgent: string;
}

export class UpstreamClient {
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(options: UpstreamClientOptions) {
    this.#fetch = options.fetch ?? fetch;
    this.#userAgent = options.userAgent;
  }

  async packument(upstream: string, name: string, validators: { etag: string | null; lastModified: string | null }, options: UpstreamRequestOptions): Promise<PackumentFetch> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (validators.etag) headers['if-none-match'] = validators.etag;
    if (validators.lastModified) headers['if-modified-since'] = validators.lastModified;
    const { response, idle } = await this.#request(`${upstream}/${escapedName(name)}`, headers);
    try {
      const etag = response.headers.get('etag');
      const lastModified = response.headers.get('last-modified');
      if (response.status === 304) return { kind: 'not-modified', etag, lastModified };
      if (response.status === 404 || response.status === 410) return { kind: 'not-found' };
      if (response.status !== 200) throw new UpstreamError(`the upstream answered ${response.status} for ${name}`);
      const body = await readCapped(response, Math.min(options.maxBytes, MAX_PACKUMENT_BYTES), idle);
      return { kind: 'ok', body, etag, lastModified };
    } finally {
      idle.stop();
      if (!response.bodyUsed) void response.body?.cancel().catch(() => undefined);
    }
  }

  /** The tarball at `url` (on `upstream`'s origin, which the caller checked), as a stream. */
  async tarball(upstream: string, url: string, options: UpstreamRequestOptions): Promise<TarballFetch> {
    const origin = new URL(upstream).origin;
    let target = new URL(url);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { accept: 'application/octet-stream', 'user-agent': this.#userAgent };
      if (options.token && target.origin === origin) headers.authorization = `Bearer ${options.token}`;
      const { response, idle } = await this.#request(target.href, headers);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location && hop < MAX_TARBALL_REDIRECTS) {
        idle.stop();
        void response.body?.cancel().catch(() => undefined);
        target = new URL(location, target);
        if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UpstreamError('the upstream redirected a tarball to a non-HTTP URL');
        continue;
      }
      if (response.status === 404 || response.status === 410) {
        idle.stop();
        void response.body?.cancel().catch(() => undefined);
        return { kind: 'not-found' };
      }
      if (response.status !== 200 || !response.body) {
        idle.stop();
        void response.body?.cancel().catch(() => undefined);
        throw new UpstreamError(`the upstream answered ${response.status} for a tarball`);
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        idle.stop();
        void response.body.cancel().catch(() => undefined);
        throw new UpstreamError(`the upstream tarball is larger than ${options.maxBytes} bytes`);
      }
      const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
      body.on('data', () => idle.touch());
      body.on('close', () => idle.stop());
      idle.onTimeout(() => body.destroy(new UpstreamError('the upstream stopped sending the tarball')));
      return { kind: 'ok', body, size: Number.isFinite(declared) ? declared : undefined };
    }
  }

  /** Sends the request with a deadline for the headers; the returned idle timer then guards the body. */
  async #request(url: string, headers: Record<string, string>): Promise<{ response: Response; idle: IdleTimer }> {
    const controller = new AbortController();
    const headersDeadline = setTimeout(() => controller.abort(new UpstreamError('the upstream did not answer in time')), HEADERS_TIMEOUT_MS);
    let response: Response;
    try {
      response = await this.#fetch(url, { headers, redirect: 'manual', signal: controller.signal });
    } catch (err) {
      throw err instanceof UpstreamError ? err : new UpstreamError(`the upstream could not be reached (${(err as Error).message})`);
    } finally {
      clearTimeout(headersDeadline);
    }
    const idle = new IdleTimer(IDLE_TIMEOUT_MS, () => controller.abort(new UpstreamError('the upstream stopped sending')));
    return { response, idle };
  }
}

/** Fires when nothing happened for `ms`; `touch` restarts it. */
class IdleTimer {
  #timer: NodeJS.Timeout | undefined;
  readonly #ms: number;
  readonly #handlers: Array<() => void> = [];
  constructor(ms: number, onTimeout: () => void) {
    this.#ms = ms;
    this.#handlers.push(onTimeout);
    this.touch();
  }
  onTimeout(handler: () => void): void {
    this.#handlers.push(handler);
  }
  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      for (const h of this.#handlers) h();
    }, this.#ms);
    this.#timer.unref();
  }
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

async function readCapped(response: Response, maxBytes: number, idle: IdleTimer): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  // Only meaningful without Content-Encoding (fetch decompresses; the cap below applies to the inflated bytes).
  if (!response.headers.get('content-encoding') && Number.isFinite(declared) && declared > maxBytes) {
    throw new UpstreamError(`the upstream packument is larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      idle.touch();
      total += chunk.length;
      if (total > maxBytes) throw new UpstreamError(`the upstream packument is larger than ${maxBytes} bytes`);
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  } catch (err) {
    throw err instanceof UpstreamError ? err : new UpstreamError(`the upstream packument could not be read (${(err as Error).message})`);
  }
  return Buffer.concat(chunks, total);
}
