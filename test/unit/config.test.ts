import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'wharf-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration', () => {
  it('has working defaults: 0.0.0.0:5080, ./data, SQLite, external URL from the port', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 5080);
    assert.equal(c.dataDir, path.join(dir, 'data'));
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.externalUrl, 'http://localhost:5080');
    assert.equal(c.logLevel, 'info');
    assert.ok(Object.isFrozen(c));
  });

  it('layers defaults ← YAML file ← environment', () => {
    const file = path.join(dir, 'wharf.yaml');
    writeFileSync(file, 'port: 6000\ndata_dir: /srv/wharf\nexternalUrl: https://files.example.com/\nlog_level: warn\n');
    const fromFile = loadConfig({ env: {}, file, cwd: dir });
    assert.equal(fromFile.port, 6000);
    assert.equal(fromFile.dataDir, '/srv/wharf');
    assert.equal(fromFile.externalUrl, 'https://files.example.com');
    assert.equal(fromFile.logLevel, 'warn');
    const overridden = loadConfig({ env: { WHARF_CONFIG: file, WHARF_PORT: '7000' }, cwd: dir });
    assert.equal(overridden.port, 7000);
    assert.equal(overridden.dataDir, '/srv/wharf');
  });

  it('takes PostgreSQL URLs and leaves the embedded SQLite as the default', () => {
    assert.equal(loadConfig({ env: { WHARF_DATABASE_URL: 'postgres://u:p@db/wharf' } }).databaseUrl, 'postgres://u:p@db/wharf');
    assert.equal(loadConfig({ env: { WHARF_DATABASE_URL: '' } }).databaseUrl, undefined);
  });

  it('reports every invalid value at once, each with its variable name', () => {
    let caught: unknown;
    try {
      loadConfig({
        env: {
          WHARF_PORT: 'eighty',
          WHARF_EXTERNAL_URL: 'ftp://x',
          WHARF_DATABASE_URL: 'mysql://x',
          WHARF_LOG_LEVEL: 'loud',
          WHARF_ROOT_TOKEN: 'short',
          WHARF_ROOT_PASSWORD: '123',
          WHARF_TRUST_PROXY: 'maybe',
        },
      });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError);
    const names = caught.problems.map((p) => p.split(' ')[0]);
    assert.deepEqual(names.sort(), [
      'WHARF_DATABASE_URL',
      'WHARF_EXTERNAL_URL',
      'WHARF_LOG_LEVEL',
      'WHARF_PORT',
      'WHARF_ROOT_PASSWORD',
      'WHARF_ROOT_TOKEN',
      'WHARF_TRUST_PROXY',
    ]);
  });

  it('refuses unknown keys and bad values in the YAML file, naming the file', () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'port: -1\nprot: 5\n');
    assert.throws(
      () => loadConfig({ env: {}, file }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('unknown key "prot"')) && err.problems.some((p) => p.startsWith('port')),
    );
    assert.throws(() => loadConfig({ env: {}, file: path.join(dir, 'missing.yaml') }), ConfigError);
  });

  it('selects the filesystem blob store by default and validates the S3 settings together', () => {
    assert.deepEqual(loadConfig({ env: {} }).blobStore, { kind: 'fs' });
    const s3 = loadConfig({ env: { WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: 'b', WHARF_S3_PREFIX: '/wharf', WHARF_S3_FORCE_PATH_STYLE: 'true' } }).blobStore;
    assert.equal(s3.kind, 's3');
    if (s3.kind === 's3') {
      assert.equal(s3.prefix, 'wharf/');
      assert.equal(s3.forcePathStyle, true);
      assert.equal(s3.checksums, 'when_required');
      assert.equal(s3.directDownload, false);
    }
    assert.throws(
      () => loadConfig({ env: { WHARF_BLOB_STORE: 's3', WHARF_S3_ACCESS_KEY_ID: 'id', WHARF_S3_CHECKSUMS: 'always' } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.startsWith('WHARF_S3_BUCKET must be set')) &&
        err.problems.some((p) => p.startsWith('WHARF_S3_ACCESS_KEY_ID and WHARF_S3_SECRET_ACCESS_KEY')) &&
        err.problems.some((p) => p.startsWith('WHARF_S3_CHECKSUMS')),
    );
  });

  it('guards against YAML alias bombs', () => {
    const file = path.join(dir, 'bomb.yaml');
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    writeFileSync(file, levels.join('\n'));
    assert.throws(() => loadConfig({ env: {}, file }), ConfigError);
  });
});
