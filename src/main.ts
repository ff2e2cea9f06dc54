/**
 * `wharf serve`: load the configuration, compose, bootstrap, listen, and drain on SIGTERM/SIGINT.
 */
import pino from 'pino';
import type { Config } from './config/config.js';
import { buildApp } from './app.js';
import { compose } from './compose.js';
import { BatchedLogStream } from './http/plugins/batched-log-stream.js';

export interface Serving {
  url: string;
  close(): Promise<void>;
}

/**
 * Log lines are written to stdout in batches of about this many characters (`BatchedLogStream`), and at least every
 * `LOG_FLUSH_MS`: one write per request cost more than building the line. A normal stop flushes what is pending; a
 * SIGKILL can lose the last fraction of a second.
 */
const LOG_BATCH_LENGTH = 4096;
const LOG_FLUSH_MS = 200;

export function rootTokenBanner(token: string, config: Config): string {
  const line = '='.repeat(78);
  return [
    line,
    'Wharf created the administrator account "root" on this empty database.',
    "root's API token is printed below ONCE; it is not stored in readable form. Keep it safe:",
    '',
    `    WHARF ROOT TOKEN: ${token}`,
    '',
    `Try it:  curl -H "PRIVATE-TOKEN: <token>" ${config.externalUrl}/api/v4/user`,
    'Lost it? Create another with: wharf token create --user root --name admin --scopes api',
    line,
    '',
  ].join('\n');
}

export async function serve(config: Config, out: NodeJS.WritableStream = process.stdout): Promise<Serving> {
  const deps = await compose(config);
  const { generatedToken } = await deps.services.bootstrap.run({ rootToken: config.rootToken, rootPassword: config.rootPassword });
  if (generatedToken) out.write(rootTokenBanner(generatedToken, config));
  const logDestination = new BatchedLogStream(pino.destination({ dest: 1, sync: false }), LOG_BATCH_LENGTH);
  const flushTimer = setInterval(() => logDestination.flush(), LOG_FLUSH_MS);
  flushTimer.unref();
  const app = await buildApp(deps, { logStream: logDestination });
  app.log.info(
    { migrations: deps.appliedMigrations },
    deps.appliedMigrations.length ? `applied database migrations: ${deps.appliedMigrations.join(', ')}` : 'database schema is up to date',
  );
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info({ address, database: deps.database.dialect, dataDir: config.dataDir, externalUrl: config.externalUrl }, 'Wharf is listening');

  const gcTimer = config.gcIntervalSeconds > 0 ? setInterval(() => void runGc(), config.gcIntervalSeconds * 1000) : undefined;
  gcTimer?.unref();
  let gcRunning = false;
  async function runGc(): Promise<void> {
    if (gcRunning) return;
    gcRunning = true;
    try {
      app.log.info({ gc: await deps.services.gc.run() }, 'garbage collection done');
    } catch (err) {
      app.log.error({ err }, 'garbage collection failed');
    } finally {
      gcRunning = false;
    }
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (gcTimer) clearInterval(gcTimer);
      await app.close();
      await deps.database.close();
      clearInterval(flushTimer);
      logDestination.flushSync();
    })();
    return closing;
  };
  return { url: address, close };
}

/** Installs signal handlers so a stop drains in-flight requests before the process exits. */
export function closeOnSignals(serving: Serving, log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  const stop = (signal: string) => {
    log(`wharf: ${signal} received, finishing in-flight requests`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    serving.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`wharf: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
