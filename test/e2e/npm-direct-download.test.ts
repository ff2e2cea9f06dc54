/**
 * S3 direct downloads (WHARF_S3_DIRECT_DOWNLOAD=true): Wharf answers a tarball request with GitLab's 302 to a
 * short-lived pre-signed URL on the object store, and the real npm, pnpm and Yarn 1 follow it, without sending the
 * registry token to the other host.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { published } from '../helpers/npm.js';
import { cleanEnv, consumer, npmrcFor, ok, requireIn, run, startRegistry, type Registry } from '../helpers/npm-e2e.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

const PNPM = path.join(path.dirname(createRequire(import.meta.url).resolve('pnpm')), 'bin/pnpm.cjs');
const YARN1 = createRequire(import.meta.url).resolve('yarn/bin/yarn.js');
const NAME = '@acme/direct-widget';

describe('npm clients follow S3 direct downloads', () => {
  let s3: TestS3;
  let r: Registry;
  before(async () => {
    // Another host than Wharf's 127.0.0.1: npm and Yarn 1 keep the registry token on a redirect to the same
    // hostname, and S3 refuses a signed URL that also carries an Authorization header.
    s3 = await startS3('127.0.0.2');
    r = await startRegistry('wharf-direct-e2e-', { ...s3.env, WHARF_S3_DIRECT_DOWNLOAD: 'true', WHARF_S3_DIRECT_DOWNLOAD_EXPIRY: '120' });
    await published(r.t, r.projectId, NAME, '1.0.0');
  });
  after(async () => {
    await r?.close();
    await s3?.close();
  });

  it('answers the tarball request with a 302 to a pre-signed URL on the object store', async () => {
    const res = await fetch(`${r.urls.project}${NAME}/-/${NAME}-1.0.0.tgz`, { headers: { authorization: `Bearer ${r.token}` }, redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = res.headers.get('location')!;
    assert.ok(location.startsWith(s3.endpoint), location);
    assert.match(location, /X-Amz-Signature=/);
    const bytes = await fetch(location);
    assert.equal(bytes.status, 200, 'the signed URL needs no registry token');
  });

  const installs: [string, (app: string) => Promise<string>][] = [
    ['npm', (app) => ok(run('npm', ['install', `${NAME}@1.0.0`, '--cache', path.join(app, '.npm-cache'), '--no-audit', '--no-fund'], app, cleanEnv(r.work)), 'npm install')],
    ['pnpm', (app) => ok(run(process.execPath, [PNPM, 'add', `${NAME}@1.0.0`], app, cleanEnv(r.work, { npm_config_store_dir: path.join(app, '.pnpm-store') })), 'pnpm add')],
    ['yarn 1', (app) => ok(run(process.execPath, [YARN1, 'add', `${NAME}@1.0.0`, '--cache-folder', path.join(app, '.yarn-cache'), '--non-interactive'], app, cleanEnv(r.work, { YARN_IGNORE_PATH: '1' })), 'yarn add')],
  ];
  for (const [client, install] of installs) {
    it(`${client} installs through the redirect and require()s the package`, async () => {
      const app = consumer(path.join(r.work, `consumer-${client.replace(' ', '')}`), { '.npmrc': npmrcFor('acme', r.urls.project, r.token, 'project', r.base) });
      await install(app);
      assert.equal(await requireIn(app, NAME), 42);
    });
  }
});
