/**
 * The `wharf` command. Administrative commands talk to the database directly (as the instance administrator
 * `root`), so they work before the server runs and without a token.
 */
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { compose, openBlobStore, type Deps } from '../compose.js';
import { isAppError } from '../domain/errors.js';
import type { UserIdentity } from '../domain/access/identity.js';
import { contextOf } from '../domain/audit.js';
import { closeOnSignals, rootTokenBanner, serve } from '../main.js';
import { migrateToLatest } from '../storage/db/migrate.js';
import { openDatabase } from '../storage/db/database.js';
import { VERSION } from '../version.js';
import { TransferService } from '../services/transfer.service.js';
import { TransferRepository } from '../storage/db/repositories/transfer.repository.js';

const program = new Command();
program
  .name('wharf')
  .description('Wharf: a self-hosted npm and Helm registry speaking the GitLab Package Registry API')
  .version(VERSION)
  .option('-c, --config <file>', 'YAML configuration file (default: $WHARF_CONFIG)')
  .showHelpAfterError();

const config = (): Config => loadConfig({ file: program.opts<{ config?: string }>().config });

/** Runs an administrative action with composed services, reporting errors the way the API words them. */
async function withDeps<T>(action: (deps: Deps, admin: UserIdentity) => Promise<T>): Promise<T> {
  const deps = await compose(config());
  try {
    const { generatedToken } = await deps.services.bootstrap.run({ rootToken: deps.config.rootToken, rootPassword: deps.config.rootPassword });
    // A CLI command on an empty database creates root just as `serve` would; its token must not be lost.
    if (generatedToken) process.stdout.write(rootTokenBanner(generatedToken, deps.config));
    const root = await deps.services.users.byUsername('root');
    if (!root) throw new Error('the administrator account "root" does not exist');
    const admin: UserIdentity = { kind: 'user', userId: root.id, username: root.username, isAdmin: true, scopes: ['api'], tokenId: 0 };
    return await action(deps, admin);
  } finally {
    await deps.database.close();
  }
}

const print = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);

async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new Error('give --password, or pipe the password on stdin');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

program
  .command('serve')
  .description('start the HTTP server (migrates the database first; creates "root" on an empty one)')
  .action(async () => {
    const serving = await serve(config());
    closeOnSignals(serving);
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const cfg = config();
    const handle = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
      const { applied } = await migrateToLatest(handle.db, handle.dialect);
      print(applied.length ? `applied: ${applied.join(', ')}` : 'database schema is up to date');
    } finally {
      await handle.close();
    }
  });

program
  .command('gc')
  .description('remove deleted packages for good, evict the npm proxy cache down to npm_proxy_max_cache_bytes, expire abandoned OCI uploads, and delete every stored blob nothing references any more')
  .option('--grace <seconds>', 'spare blobs younger than this (uploads still in flight)', '3600')
  .option('--dry-run', 'report what would be removed, remove nothing', false)
  .action(async (o: { grace: string; dryRun: boolean }) => {
    if (!/^\d+$/.test(o.grace)) throw new Error('--grace must be a number of seconds');
    await withDeps(async (deps) => {
      const r = await deps.services.gc.run({ graceMs: Number(o.grace) * 1000, dryRun: o.dryRun });
      print({ ...r, dryRun: o.dryRun });
    });
  });

const signingKeys = program.command('signing-keys').description('the npm registry signing keys (dist.signatures, GET -/npm/v1/keys)');

signingKeys
  .command('list')
  .description('list the signing keys as npm sees them (the newest one without "expires" signs new versions)')
  .action(async () => {
    await withDeps(async (deps) => print(await deps.services.npm.signingKeys.publicKeys()));
  });

signingKeys
  .command('rotate')
  .description('add a new signing key that signs from now on; the current key stays listed, valid for versions published before it expires')
  .option('--overlap-hours <hours>', 'hours the current key keeps signing validly (instances still using it); 0 for a compromised key', '24')
  .action(async (o: { overlapHours: string }) => {
    if (!/^\d+$/.test(o.overlapHours) || Number(o.overlapHours) > 24 * 365) throw new Error('--overlap-hours must be a whole number of hours, at most 8760');
    await withDeps(async (deps) => print(await deps.services.npm.signingKeys.rotate(Number(o.overlapHours) * 3_600_000, contextOf(undefined))));
  });

program
  .command('transfer')
  .description('copy this install (its configured database and blob store) into an empty target database and blob store; run it again to resume')
  .requiredOption('--to-database <url>', 'target database: postgres://… (or sqlite:<path>)')
  .addOption(new Option('--to-blob-store <kind>', 'target blob store').choices(['s3', 'fs']).default('s3'))
  .option('--to-data-dir <dir>', 'target data directory (required with --to-blob-store fs; its blobs/ receives the files)')
  .option('--to-s3-bucket <bucket>', 'target bucket (required with --to-blob-store s3)')
  .option('--to-s3-prefix <prefix>', 'target key prefix')
  .option('--to-s3-endpoint <url>', 'target S3-compatible endpoint (default: AWS S3)')
  .option('--to-s3-region <region>', 'target region')
  .option('--to-s3-force-path-style', 'path-style bucket addressing (most self-hosted stores)')
  .addOption(new Option('--to-s3-checksums <mode>', 'checksums sent to the target store').choices(['when_required', 'when_supported']))
  .option('--no-sessions', 'do not copy web UI sessions (users sign in again)')
  .action(async (o: {
    toDatabase: string; toBlobStore: 's3' | 'fs'; toDataDir?: string; toS3Bucket?: string; toS3Prefix?: string; toS3Endpoint?: string;
    toS3Region?: string; toS3ForcePathStyle?: boolean; toS3Checksums?: string; sessions: boolean;
  }) => {
    const sourceConfig = config();
    if (o.toBlobStore === 'fs' && !o.toDataDir) throw new Error('--to-blob-store fs needs --to-data-dir');
    // The target is described with the same settings (and validation) a server on it will use; its S3 credentials
    // come from WHARF_TO_S3_* variables so that they never show up in the process list.
    const targetEnv: Record<string, string | undefined> = {
      WHARF_DATABASE_URL: o.toDatabase,
      WHARF_DATA_DIR: o.toDataDir ?? sourceConfig.dataDir,
      WHARF_BLOB_STORE: o.toBlobStore,
      WHARF_S3_BUCKET: o.toS3Bucket,
      WHARF_S3_PREFIX: o.toS3Prefix,
      WHARF_S3_ENDPOINT: o.toS3Endpoint,
      WHARF_S3_REGION: o.toS3Region,
      WHARF_S3_FORCE_PATH_STYLE: o.toS3ForcePathStyle ? 'true' : undefined,
      WHARF_S3_CHECKSUMS: o.toS3Checksums,
      WHARF_S3_ACCESS_KEY_ID: process.env.WHARF_TO_S3_ACCESS_KEY_ID,
      WHARF_S3_SECRET_ACCESS_KEY: process.env.WHARF_TO_S3_SECRET_ACCESS_KEY,
    };
    const targetConfig = loadConfig({ env: Object.fromEntries(Object.entries(targetEnv).filter(([, v]) => v !== undefined)) });
    const source = await compose(sourceConfig);
    const target = await openDatabase({ databaseUrl: targetConfig.databaseUrl, dataDir: targetConfig.dataDir });
    try {
      await migrateToLatest(target.db, target.dialect);
      const report = await new TransferService(new TransferRepository(target.dialect), source.clock).run(
        { db: source.database.db, blobs: source.blobs, location: source.database.location },
        { db: target.db, blobs: await openBlobStore(targetConfig), location: target.location },
        { sessions: o.sessions, log: (line) => process.stderr.write(`wharf transfer: ${line}\n`) },
      );
      print(report);
    } finally {
      await target.close();
      await source.database.close();
    }
  });

const npmProxy = program.command('npm-proxy').description("the npm proxy's cache: what is cached, its use, purging");
npmProxy
  .command('list')
  .description('list cached names: versions cached, bytes, hits, misses, last fetch and use (one JSON object per line)')
  .option('--search <text>', 'only names containing this text')
  .action(async (o: { search?: string }) => {
    await withDeps(async (deps, admin) => {
      const { items } = await deps.services.npm.proxyAdmin.list(admin, { search: o.search }, { page: 1, perPage: 100_000 });
      for (const entry of items) process.stdout.write(`${JSON.stringify(entry)}\n`);
    });
  });
npmProxy
  .command('stats')
  .description('totals: packuments, tarballs, bytes, hits, misses and the size limit')
  .action(async () => {
    await withDeps(async (deps, admin) => print(await deps.services.npm.proxyAdmin.stats(admin)));
  });
npmProxy
  .command('purge')
  .description('forget a cached name (its packument and tarballs), or everything with --all; the blobs go with the next gc')
  .argument('[name]', 'the package name, e.g. left-pad or @types/node')
  .option('--all', 'purge the whole cache', false)
  .action(async (name: string | undefined, o: { all: boolean }) => {
    if (o.all === (name !== undefined)) throw new Error('give either a package name or --all');
    await withDeps(async (deps, admin) => {
      const cache = deps.services.npm.proxyAdmin;
      // Attributed to the system (`wharf`), as the CLI's other changes are.
      print(o.all ? await cache.purgeAll(admin, contextOf(undefined)) : await cache.purge(admin, name!, contextOf(undefined)));
    });
  });

const user = program.command('user').description('manage users');
user
  .command('create')
  .description('create a user (and their personal namespace)')
  .requiredOption('--username <username>', 'login name and namespace path')
  .requiredOption('--email <email>', 'e-mail address')
  .option('--name <name>', 'display name (default: the username)')
  .option('--password <password>', 'password (at least 8 characters); omit to create a token-only user')
  .option('--admin', 'make the user an instance administrator', false)
  .action(async (o: { username: string; email: string; name?: string; password?: string; admin: boolean }) => {
    await withDeps(async (deps) => {
      const u = await deps.services.users.create({ username: o.username, email: o.email, name: o.name ?? o.username, password: o.password, admin: o.admin });
      print({ id: u.id, username: u.username, name: u.name, email: u.email, is_admin: u.is_admin === 1 });
    });
  });
user
  .command('list')
  .description('list users')
  .option('--search <text>', 'filter by username, name or e-mail')
  .action(async (o: { search?: string }) => {
    await withDeps(async (deps) => {
      const { items } = await deps.services.users.list({ search: o.search }, { page: 1, perPage: 100_000 });
      for (const u of items) print(`${u.id}\t${u.username}\t${u.email}\t${u.is_admin ? 'admin' : ''}\t${u.state}`);
    });
  });
user
  .command('set-password')
  .description("set a user's password (reads it from stdin when --password is not given)")
  .argument('<username>', 'the user')
  .option('--password <password>', 'the new password (at least 8 characters)')
  .action(async (username: string, o: { password?: string }) => {
    const password = o.password ?? (await readPasswordFromStdin());
    await withDeps(async (deps) => {
      const u = await deps.services.users.byUsername(username);
      if (!u) throw new Error(`no user named "${username}"`);
      await deps.services.users.setPassword(u.id, password);
      print(`password of ${u.username} updated`);
    });
  });

const token = program.command('token').description('manage personal access tokens');
token
  .command('create')
  .description('create a personal access token and print it once')
  .requiredOption('--user <username>', 'owner of the token')
  .requiredOption('--name <name>', 'what the token is for')
  .option('--scopes <scopes>', 'comma-separated: api, read_api', 'api')
  .option('--expires-at <date>', 'YYYY-MM-DD; "never" for no expiry (default: 365 days from today)')
  .action(async (o: { user: string; name: string; scopes: string; expiresAt?: string }) => {
    await withDeps(async (deps) => {
      const u = await deps.services.users.byUsername(o.user);
      if (!u) throw new Error(`no user named "${o.user}"`);
      const { row, token: secret } = await deps.services.tokens.createPersonal(u.id, {
        name: o.name,
        scopes: o.scopes.split(',').map((s) => s.trim()).filter(Boolean),
        expires_at: o.expiresAt === 'never' ? null : o.expiresAt,
        operator: true,
      });
      print({ id: row.id, name: row.name, user: u.username, scopes: JSON.parse(row.scopes) as string[], expires_at: row.expires_at, token: secret });
    });
  });
token
  .command('list')
  .description('list personal access tokens (never their secrets)')
  .option('--user <username>', 'only this user’s tokens')
  .action(async (o: { user?: string }) => {
    await withDeps(async (deps, admin) => {
      const owner = o.user ? await deps.services.users.byUsername(o.user) : undefined;
      if (o.user && !owner) throw new Error(`no user named "${o.user}"`);
      const { items } = await deps.services.tokens.listPersonal(admin, { userId: owner?.id }, { page: 1, perPage: 100_000 });
      for (const t of items) {
        print(`${t.id}\tuser=${t.user_id}\t${t.name}\t${t.scopes}\texpires=${t.expires_at ?? 'never'}\t${t.revoked ? 'revoked' : 'active'}`);
      }
    });
  });
token
  .command('revoke')
  .description('revoke a personal access token by id')
  .argument('<id>', 'token id (see `wharf token list`)')
  .action(async (id: string) => {
    await withDeps(async (deps, admin) => {
      await deps.services.tokens.revokePersonal(admin, Number(id));
      print(`token ${id} revoked`);
    });
  });

const visibility = new Option('--visibility <visibility>', 'public, internal or private').choices(['public', 'internal', 'private']);

program
  .command('group')
  .description('manage groups')
  .command('create')
  .description('create a group; a path with slashes creates a subgroup of the existing parent')
  .requiredOption('--path <full-path>', 'e.g. acme or acme/platform')
  .option('--name <name>', 'display name (default: the last path segment)')
  .addOption(visibility)
  .action(async (o: { path: string; name?: string; visibility?: 'public' | 'internal' | 'private' }) => {
    await withDeps(async (deps, admin) => {
      const parts = o.path.split('/');
      const path = parts.pop()!;
      let parentId: number | undefined;
      if (parts.length) {
        const parent = await deps.services.access.findGroup(parts.join('/'));
        if (!parent) throw new Error(`no group "${parts.join('/')}"; create it first`);
        parentId = parent.id;
      }
      const g = await deps.services.groups.create(admin, { name: o.name ?? path, path, parent_id: parentId, visibility: o.visibility });
      print({ id: g.id, full_path: g.full_path, visibility: g.visibility });
    });
  });

program
  .command('project')
  .description('manage projects')
  .command('create')
  .description('create a project in a group or user namespace')
  .requiredOption('--path <full-path>', 'e.g. acme/platform/web (the namespace must exist)')
  .option('--name <name>', 'display name (default: the last path segment)')
  .addOption(visibility)
  .addOption(new Option('--package-registry-access-level <level>', 'disabled, private, enabled or public').choices(['disabled', 'private', 'enabled', 'public']))
  .action(async (o: { path: string; name?: string; visibility?: 'public' | 'internal' | 'private'; packageRegistryAccessLevel?: 'disabled' | 'private' | 'enabled' | 'public' }) => {
    await withDeps(async (deps, admin) => {
      const parts = o.path.split('/');
      const path = parts.pop()!;
      if (parts.length === 0) throw new Error('give the full path, namespace included (e.g. root/my-project)');
      const nsPath = parts.join('/');
      const ns = (await deps.services.access.findGroup(nsPath)) ?? (await userNamespace(deps, nsPath));
      if (!ns) throw new Error(`no group or user "${nsPath}"`);
      const p = await deps.services.projects.create(admin, {
        name: o.name ?? path,
        path,
        namespace_id: ns.id,
        visibility: o.visibility,
        package_registry_access_level: o.packageRegistryAccessLevel,
      });
      print({ id: p.id, path_with_namespace: p.full_path, visibility: p.visibility, package_registry_access_level: p.package_registry_access_level });
    });
  });

async function userNamespace(deps: Deps, username: string): Promise<{ id: number } | undefined> {
  const u = await deps.services.users.byUsername(username);
  return u?.namespace_id ? { id: u.namespace_id } : undefined;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`wharf: ${err.message}\n`);
  } else if (isAppError(err)) {
    process.stderr.write(`wharf: ${JSON.stringify(err.body)}\n`);
  } else {
    process.stderr.write(`wharf: ${(err as Error).message}\n`);
  }
  process.exitCode = 1;
}
