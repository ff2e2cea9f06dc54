/**
 * A Wharf built with `buildApp` on a fresh database, plus small helpers to call it through `inject()` the way
 * curl, npm or helm would.
 */
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { compose, type Deps } from '../../src/compose.js';
import type { Clock } from '../../src/domain/clock.js';
import type { DeclaredRoute } from '../../src/http/plugins/route-access.js';
import { createTestDatabase, type TestDialect } from './databases.js';
import { startS3 } from './s3.js';

export const ROOT_TOKEN = 'wharf-test-root-token-0123456789';

export interface TestApp {
  app: App;
  deps: Deps;
  dialect: TestDialect;
  /** Every log line the app wrote. */
  logs: string[];
  /** The environment its configuration was read from: a second instance on the same database and blobs reuses it. */
  env: Readonly<Record<string, string>>;
  close(): Promise<void>;
  /** JSON request with an optional token sent as PRIVATE-TOKEN (or any header set you pass). */
  call(method: string, url: string, opts?: CallOptions): Promise<CallResult>;
}

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: any;
  text: string;
}

export interface StartOptions {
  clock?: Clock;
  env?: Record<string, string>;
  /** Collects every registered route with its declared ability (`buildApp`'s option of the same name). */
  declaredRoutes?: DeclaredRoute[];
}

/** `WHARF_TEST_BLOB_STORE=s3` runs every app on a real S3-protocol server instead of the filesystem. */
const BLOBS_ON_S3 = process.env.WHARF_TEST_BLOB_STORE === 's3';

export async function startApp(dialect: TestDialect, options: StartOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase(dialect);
  const s3 = BLOBS_ON_S3 ? await startS3() : undefined;
  const env: Record<string, string> = {
    WHARF_DATA_DIR: db.dataDir,
    WHARF_EXTERNAL_URL: 'http://wharf.test',
    WHARF_ROOT_TOKEN: ROOT_TOKEN,
    WHARF_LOG_LEVEL: 'info',
    ...(db.databaseUrl ? { WHARF_DATABASE_URL: db.databaseUrl } : {}),
    ...(s3 ? s3.env : {}),
    ...options.env,
  };
  const config = loadConfig({ env });
  let deps: Deps;
  try {
    deps = await compose(config, options.clock ? { clock: options.clock } : {});
    await deps.services.bootstrap.run({ rootToken: config.rootToken, rootPassword: config.rootPassword });
  } catch (err) {
    // Leave no schema or directory behind when start-up fails.
    await s3?.close();
    await db.drop();
    throw err;
  }
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const app = await buildApp(deps, { logStream, ...(options.declaredRoutes ? { declaredRoutes: options.declaredRoutes } : {}) });
  await app.ready();
  return {
    app,
    deps,
    dialect,
    logs,
    env,
    async close() {
      await app.close();
      await deps.database.close();
      (deps.blobs as { destroy?: () => void }).destroy?.();
      await s3?.close();
      await db.drop();
    },
    async call(method, url, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.token) headers['private-token'] = opts.token;
      let payload: string | undefined;
      if (opts.body !== undefined) {
        payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
      let body: unknown = undefined;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, headers: res.headers, body, text: res.body };
    },
  };
}

export { TestClock } from './clock.js';

/** A second instance of a test app: same database and blob store, caches of its own. */
export interface PeerApp {
  app: App;
  deps: Deps;
  close(): Promise<void>;
}

/**
 * Starts a second app on `t`'s database and blob store (its directory, or the same S3 bucket when the suite runs
 * with `WHARF_TEST_BLOB_STORE=s3`), as another Wharf process of a scaled-out set-up would be.
 */
export async function startPeer(t: TestApp, options: { clock?: Clock } = {}): Promise<PeerApp> {
  const config = loadConfig({ env: { ...t.env, WHARF_LOG_LEVEL: 'silent' } });
  const deps = await compose(config, options.clock ? { clock: options.clock } : {});
  const app = await buildApp(deps);
  await app.ready();
  return {
    app,
    deps,
    async close() {
      await app.close();
      await deps.database.close();
      (deps.blobs as { destroy?: () => void }).destroy?.();
    },
  };
}
