/**
 * Provenance attestations (`npm publish --provenance`, docs/design/npm-provenance.md) on SQLite and PostgreSQL: a
 * publish body carrying a sigstore bundle whose subject is the tarball is stored and served back byte for byte at
 * the project, group and instance endpoints, with `dist.attestations` in every packument; each bad bundle is refused
 * with its own 4xx and nothing stored; the usual access and protection rules apply; unpublish and gc remove it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, packageState, publish, publishBody, refusedWithNothingStored, type NpmWorld } from '../helpers/npm.js';
import { provenanceText, purlOf, SLSA_V02, SLSA_V1, withProvenance, type BundleOptions } from '../helpers/npm-provenance.js';

const EXTERNAL = 'http://wharf.test';

/** A publish body of `name@version` with a bundle made for it (or spoiled by `opts`) attached as npm attaches it. */
function provenancePublish(name: string, version: string, opts: BundleOptions = {}, text?: string) {
  const { body, tgz } = publishBody(name, version);
  const bundle = text ?? provenanceText(name, version, tgz, opts);
  return { body: withProvenance(body, name, version, bundle), tgz, bundle };
}

for (const dialect of DIALECTS) {
  describe(`npm provenance attestations [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let pubGroup: number;
    let privGroup: number;

    const get = (url: string, token?: string, accept?: string) =>
      t.app.inject({ method: 'GET', url, headers: { ...bearer(token), ...(accept ? { accept } : {}) } });
    const attestationsPath = (base: string, name: string, version: string) => `${base}/-/npm/v1/attestations/${esc(name)}@${version}`;
    const refusedWith = async (pid: number, body: unknown, status: number, code: string, message: RegExp, token = w.token.developer) => {
      const logged = t.logs.length;
      const r = await refusedWithNothingStored(t, () => publish(t, pid, body, token));
      assert.equal(r.status, status, r.text);
      assert.match(String(r.body?.error), message);
      assert.equal(r.body.message, r.body.error, "npm's {message, error} shape");
      assert.ok(t.logs.slice(logged).some((l) => l.includes(`"${code}"`)), `the log names ${code}`);
      return r;
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      pubGroup = (await t.call('GET', '/api/v4/groups/pubgrp', { token: ROOT_TOKEN })).body.id;
      privGroup = (await t.call('GET', '/api/v4/groups/privgrp', { token: ROOT_TOKEN })).body.id;
    });
    after(async () => t.close());

    it('stores a matching bundle and serves it back byte for byte at project, group and instance level', async () => {
      const NAME = '@pubgrp/prov';
      const pid = w.project.public;
      const { body, bundle } = provenancePublish(NAME, '1.0.0');
      const r = await publish(t, pid, body, w.token.developer);
      assert.equal(r.status, 200, r.text);

      const expected = Buffer.from(`{"attestations":[{"predicateType":"${SLSA_V1}","bundle":${bundle}}]}`);
      const levels = [
        { base: npmBase(pid), url: `${EXTERNAL}${npmBase(pid)}` },
        { base: `/api/v4/groups/${pubGroup}/-/packages/npm`, url: `${EXTERNAL}/api/v4/groups/${pubGroup}/-/packages/npm` },
        { base: '/api/v4/packages/npm', url: `${EXTERNAL}/api/v4/packages/npm` },
      ];
      for (const { base, url } of levels) {
        for (const accept of ['application/json', 'application/vnd.npm.install-v1+json']) {
          const doc = await get(`${base}/${esc(NAME)}`, undefined, accept);
          assert.equal(doc.statusCode, 200, `${base} ${doc.body}`);
          const attestations = JSON.parse(doc.body).versions['1.0.0'].dist.attestations;
          assert.deepEqual(attestations, { url: `${url}/-/npm/v1/attestations/${esc(NAME)}@1.0.0`, provenance: { predicateType: SLSA_V1 } }, `${base} ${accept}`);
          // pacote fetches the URL's path from the registry it installs from (anonymous here: a public project).
          const served = await get(new URL(attestations.url).pathname);
          assert.equal(served.statusCode, 200, served.body);
          assert.equal(served.headers['content-type'], 'application/json');
          assert.ok(served.rawPayload.equals(expected), `${base}: the stored bundle, byte for byte`);
          assert.equal(JSON.parse(served.body).attestations[0].bundle.dsseEnvelope.payload, JSON.parse(bundle).dsseEnvelope.payload);
        }
        // The name as `@scope/name` and `%40scope%2Fname` finds it too; an unknown version or name does not.
        assert.equal((await get(`${base}/-/npm/v1/attestations/${NAME}@1.0.0`)).statusCode, 200);
        assert.equal((await get(`${base}/-/npm/v1/attestations/%40pubgrp%2Fprov@1.0.0`)).statusCode, 200);
        assert.equal((await get(attestationsPath(base, NAME, '9.9.9'))).statusCode, 404);
        assert.equal((await get(attestationsPath(base, '@pubgrp/none', '1.0.0'))).statusCode, 404);
        assert.equal((await get(`${base}/-/npm/v1/attestations/${esc(NAME)}`)).statusCode, 404, 'no version');
      }
    });

    it('a retry is answered 200 only with the same bundle; a bundle added to or changed on an existing version is refused', async () => {
      const NAME = '@pubgrp/retry';
      const pid = w.project.public;
      const { body, tgz, bundle } = provenancePublish(NAME, '1.0.0');
      assert.equal((await publish(t, pid, body, w.token.developer)).status, 200);
      assert.equal((await publish(t, pid, structuredClone(body), w.token.developer)).status, 200, 'the same request again');
      const another = withProvenance(publishBody(NAME, '1.0.0', { tgz }).body, NAME, '1.0.0', provenanceText(NAME, '1.0.0', tgz, { ci: 'gitlab' }));
      assert.equal((await refusedWithNothingStored(t, () => publish(t, pid, another, w.token.developer))).status, 403);
      assert.equal((await refusedWithNothingStored(t, () => publish(t, pid, publishBody(NAME, '1.0.0', { tgz }).body, w.token.developer))).status, 403);
      const plain = publishBody(NAME, '2.0.0');
      assert.equal((await publish(t, pid, plain.body, w.token.developer)).status, 200);
      const late = withProvenance(publishBody(NAME, '2.0.0', { tgz: plain.tgz }).body, NAME, '2.0.0', provenanceText(NAME, '2.0.0', plain.tgz));
      assert.equal((await refusedWithNothingStored(t, () => publish(t, pid, late, w.token.developer))).status, 403, 'provenance cannot be added afterwards');
      const served = await get(attestationsPath(npmBase(pid), NAME, '1.0.0'));
      assert.equal(JSON.parse(served.body).attestations[0].bundle.dsseEnvelope.payload, JSON.parse(bundle).dsseEnvelope.payload);
    });

    it('a version without provenance has no dist.attestations, and its attestations are 404', async () => {
      const NAME = '@pubgrp/plain';
      const r = await publish(t, w.project.public, publishBody(NAME, '1.0.0').body, w.token.developer);
      assert.equal(r.status, 200, r.text);
      const doc = JSON.parse((await get(`${npmBase(w.project.public)}/${esc(NAME)}`)).body);
      assert.equal(doc.versions['1.0.0'].dist.attestations, undefined);
      const missing = await get(attestationsPath(npmBase(w.project.public), NAME, '1.0.0'));
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(JSON.parse(missing.body), { message: '404 Attestations Not Found', error: 'Attestations not found' });
    });

    it('keeps where a GitLab CI build says it ran (SLSA v0.2) and shows it on the package page', async () => {
      const NAME = '@pubgrp/fromgitlab';
      const { body } = provenancePublish(NAME, '2.0.0', { ci: 'gitlab' });
      const r = await publish(t, w.project.public, body, w.token.developer);
      assert.equal(r.status, 200, r.text);
      const doc = JSON.parse((await get(`${npmBase(w.project.public)}/${esc(NAME)}`)).body);
      assert.equal(doc.versions['2.0.0'].dist.attestations.provenance.predicateType, SLSA_V02);
      const page = await get(`/pubgrp/public-lib/-/packages/${r.body.id}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /provenance attached <span class="muted">\(https:\/\/slsa\.dev\/provenance\/v0\.2\)<\/span>/);
      assert.match(page.body, /published from <a href="https:\/\/gitlab\.example\.com\/acme\/widget\/-\/jobs\/4242" rel="nofollow noopener">/);
      assert.match(page.body, /in <a href="https:\/\/gitlab\.example\.com\/acme\/widget"/);
    });

    it('the package page escapes what a statement claims, and links only http(s) URLs', async () => {
      const NAME = '@pubgrp/hostile';
      const predicate = {
        buildDefinition: { externalParameters: { workflow: { repository: 'javascript:alert(1)', path: '<img src=x onerror=alert(1)>', ref: 'main' } } },
        runDetails: { metadata: { invocationId: 'https://ci.example/"><script>alert(1)</script>' } },
      };
      const { body } = provenancePublish(NAME, '1.0.0', { predicate });
      const r = await publish(t, w.project.public, body, w.token.developer);
      assert.equal(r.status, 200, r.text);
      const page = await get(`/pubgrp/public-lib/-/packages/${r.body.id}`);
      assert.equal(page.statusCode, 200);
      assert.doesNotMatch(page.body, /<script>alert/);
      assert.doesNotMatch(page.body, /href="javascript:/);
      assert.match(page.body, /published from <a href="https:\/\/ci\.example\/&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
      assert.match(page.body, /in <code>javascript:alert\(1\)<\/code>/);
      // A version without provenance says nothing about it.
      const plain = await publish(t, w.project.public, publishBody(NAME, '1.0.1').body, w.token.developer);
      assert.doesNotMatch((await get(`/pubgrp/public-lib/-/packages/${plain.body.id}`)).body, /provenance attached/);
    });

    it('refuses a bundle whose subject digest is not the tarball’s, saying so, and stores nothing', async () => {
      const { body } = provenancePublish('@privgrp/mismatch', '1.0.0', { sha512: 'ab'.repeat(64) });
      await refusedWith(w.project.private, body, 400, 'npm_provenance_digest_mismatch', /subject digest does not match the tarball: it signs sha512 abab.*the attached tarball is sha512 [0-9a-f]{128}/);
      // The bundle of another tarball is the same refusal.
      const other = publishBody('@privgrp/mismatch', '1.0.0', { extra: { description: 'other bytes' } });
      const { body: spoiled } = provenancePublish('@privgrp/mismatch', '1.0.0', {}, provenanceText('@privgrp/mismatch', '1.0.0', other.tgz));
      await refusedWith(w.project.private, spoiled, 400, 'npm_provenance_digest_mismatch', /does not match the tarball/);
    });

    it('refuses a bundle for another package name or version', async () => {
      const NAME = '@privgrp/subject';
      const cases = [purlOf('@privgrp/other', '1.0.0'), purlOf(NAME, '1.0.1'), `pkg:npm/${NAME}@1.0.0`, `${purlOf(NAME, '1.0.0')}?repository_url=x`];
      for (const subjectName of cases) {
        const { body } = provenancePublish(NAME, '1.0.0', { subjectName });
        await refusedWith(w.project.private, body, 400, 'npm_provenance_subject_mismatch', /subject is ".*", but this publish is pkg:npm\/%40privgrp\/subject@1\.0\.0/);
      }
    });

    it('refuses malformed bundles, each with a message that says what is wrong', async () => {
      const NAME = '@privgrp/malformed';
      const { tgz } = publishBody(NAME, '1.0.0');
      const good = JSON.parse(provenanceText(NAME, '1.0.0', tgz));
      const variant = (patch: (b: any) => void) => {
        const b = structuredClone(good);
        patch(b);
        return JSON.stringify(b);
      };
      const cases: Array<[string, RegExp]> = [
        ['not json {', /it is not JSON/],
        ['[1,2]', /not a JSON object/],
        [variant((b) => delete b.dsseEnvelope), /"dsseEnvelope" is missing/],
        [variant((b) => (b.mediaType = 'text/plain')), /mediaType/],
        [variant((b) => delete b.verificationMaterial), /verificationMaterial/],
        [variant((b) => (b.dsseEnvelope.payloadType = 'application/json')), /payloadType/],
        [variant((b) => (b.dsseEnvelope.signatures = [])), /signatures/],
        [variant((b) => (b.dsseEnvelope.payload = '!!not base64!!')), /must be Base64/],
        [variant((b) => (b.dsseEnvelope.payload = Buffer.from('not json').toString('base64'))), /not a JSON in-toto statement/],
        [variant((b) => (b.dsseEnvelope.payload = Buffer.from('{"_type":"x"}').toString('base64'))), /not an in-toto statement/],
        [
          variant((b) => {
            const s = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
            s.subject.push(s.subject[0]);
            b.dsseEnvelope.payload = Buffer.from(JSON.stringify(s)).toString('base64');
          }),
          /exactly one subject/,
        ],
        [
          variant((b) => {
            const s = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
            s.predicateType = 'https://example.com/not-provenance';
            b.dsseEnvelope.payload = Buffer.from(JSON.stringify(s)).toString('base64');
          }),
          /SLSA provenance type/,
        ],
      ];
      for (const [text, message] of cases) {
        const { body } = provenancePublish(NAME, '1.0.0', {}, text);
        await refusedWith(w.project.private, body, 400, 'npm_provenance_invalid', message);
      }
      // The attachment under another name, or without data.
      const misnamed = publishBody(NAME, '1.0.0');
      misnamed.body._attachments[`${NAME}-1.0.1.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: provenanceText(NAME, '1.0.0', misnamed.tgz) };
      await refusedWith(w.project.private, misnamed.body, 400, 'npm_provenance_invalid', /is named "@privgrp\/malformed-1\.0\.1\.sigstore", expected "@privgrp\/malformed-1\.0\.0\.sigstore"/);
      const empty = publishBody(NAME, '1.0.0');
      empty.body._attachments[`${NAME}-1.0.0.sigstore`] = { content_type: 'application/json', data: '' };
      await refusedWith(w.project.private, empty.body, 400, 'npm_provenance_invalid', /must be the bundle's JSON text/);
      // A lying length.
      const lying = provenancePublish(NAME, '1.0.0');
      lying.body._attachments[`${NAME}-1.0.0.sigstore`].length = 3;
      await refusedWith(w.project.private, lying.body, 400, 'npm_provenance_invalid', /length 3 does not match/);
    });

    it('refuses a bundle over 1 MiB', async () => {
      const { body, bundle } = provenancePublish('@privgrp/huge', '1.0.0', { padTo: 1024 * 1024 + 10 });
      assert.ok(bundle.length > 1024 * 1024);
      await refusedWith(w.project.private, body, 400, 'npm_provenance_invalid', /larger than 1048576 bytes/);
    });

    it('refuses anonymous and Reporter publishes before reading the body, and obeys protection rules', async () => {
      const NAME = '@privgrp/guarded';
      const { body } = provenancePublish(NAME, '1.0.0');
      const anonymous = await refusedWithNothingStored(t, () => publish(t, w.project.private, body, null));
      assert.equal(anonymous.status, 401, anonymous.text);
      const reporter = await refusedWithNothingStored(t, () => publish(t, w.project.private, body, w.token.reporter));
      assert.equal(reporter.status, 403, reporter.text);
      // A body that is not even JSON gets the same answers: the rights were checked before it was read.
      const notJson = `{"name":"${NAME}","_attachments":{"${NAME}-1.0.0.sigstore":{"data":"{`;
      const put = (token?: string) =>
        t.app.inject({ method: 'PUT', url: `${npmBase(w.project.private)}/${esc(NAME)}`, headers: { ...bearer(token), 'content-type': 'application/json', 'npm-command': 'publish' }, payload: notJson });
      assert.equal((await put()).statusCode, 401);
      assert.equal((await put(w.token.reporter)).statusCode, 403);
      assert.equal((await put(w.token.developer)).statusCode, 400, 'a caller who may publish gets to the body');

      const rule = await t.call('POST', `/api/v4/projects/${w.project.private}/packages/protection/rules`, {
        token: ROOT_TOKEN,
        body: { package_name_pattern: NAME, package_type: 'npm', minimum_access_level_for_push: 'maintainer' },
      });
      assert.equal(rule.status, 201, rule.text);
      const logged = t.logs.length;
      const protectedPush = await refusedWithNothingStored(t, () => publish(t, w.project.private, body, w.token.developer));
      assert.equal(protectedPush.status, 403, protectedPush.text);
      assert.ok(t.logs.slice(logged).some((l) => l.includes('"package_protected"')), 'refused by the protection rule');
      const maintainer = await publish(t, w.project.private, body, w.token.maintainer);
      assert.equal(maintainer.status, 200, maintainer.text);
    });

    it('reads attestations exactly as the packument: 401 anonymous, 404 outsider, 200 Reporter on a private project', async () => {
      const NAME = '@privgrp/guarded';
      const bases = [npmBase(w.project.private), `/api/v4/groups/${privGroup}/-/packages/npm`, '/api/v4/packages/npm'];
      for (const base of bases) {
        for (const token of [undefined, w.token.outsider, w.token.guest, w.token.reporter, w.token.deployRead]) {
          const packument = await get(`${base}/${esc(NAME)}`, token);
          const attestations = await get(attestationsPath(base, NAME, '1.0.0'), token);
          assert.equal(attestations.statusCode, packument.statusCode, `${base} ${token ?? 'anonymous'}: ${attestations.body} vs ${packument.body}`);
          if (packument.statusCode === 200) {
            assert.equal(JSON.parse(packument.body).versions['1.0.0'].dist.attestations.provenance.predicateType, SLSA_V1);
            assert.equal(JSON.parse(attestations.body).attestations[0].predicateType, SLSA_V1);
          }
        }
        assert.equal((await get(attestationsPath(base, NAME, '1.0.0'))).statusCode, 401, `${base}: anonymous`);
        assert.equal((await get(attestationsPath(base, NAME, '1.0.0'), w.token.reporter)).statusCode, 200, `${base}: reporter`);
      }
    });

    it('unpublishing the version removes its attestations at once, and gc its bundle', async () => {
      const NAME = '@pubgrp/gone';
      const pid = w.project.public;
      const { body, bundle } = provenancePublish(NAME, '1.0.0');
      assert.equal((await publish(t, pid, body, w.token.developer)).status, 200);
      const keep = provenancePublish(NAME, '1.1.0');
      assert.equal((await publish(t, pid, keep.body, w.token.developer)).status, 200);
      const bundleKey = (await t.deps.database.db.selectFrom('npm_attestations').select('blob_key').orderBy('package_id', 'desc').execute()).map((r) => r.blob_key);
      const doc = JSON.parse((await get(`${npmBase(pid)}/${esc(NAME)}?write=true`, w.token.maintainer)).body);
      delete doc.versions['1.0.0'];
      const put = await t.call('PUT', `${npmBase(pid)}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer), body: doc });
      assert.equal(put.status, 200, put.text);
      for (const base of [npmBase(pid), `/api/v4/groups/${pubGroup}/-/packages/npm`, '/api/v4/packages/npm']) {
        assert.equal((await get(attestationsPath(base, NAME, '1.0.0'))).statusCode, 404, base);
        assert.equal((await get(attestationsPath(base, NAME, '1.1.0'))).statusCode, 200, base);
      }
      const goneKey = createHash('sha256').update(bundle).digest('hex');
      const keptKey = createHash('sha256').update(keep.bundle).digest('hex');
      assert.ok(bundleKey.includes(goneKey) && bundleKey.includes(keptKey), 'bundles are stored under their SHA-256');
      await t.deps.services.gc.run({ graceMs: 0 });
      const blobs = (await packageState(t)).blobs as string[];
      assert.ok(!blobs.includes(goneKey), 'gc removed the unpublished version’s bundle');
      assert.ok(blobs.includes(keptKey), 'gc kept the live version’s bundle');
      const left = await t.deps.database.db.selectFrom('npm_attestations').select('blob_key').execute();
      assert.ok(!left.some((r) => r.blob_key === goneKey), 'the link went with the purged package');
      assert.equal((await get(attestationsPath(npmBase(pid), NAME, '1.1.0'))).statusCode, 200, 'still served after gc');
    });
  });
}
