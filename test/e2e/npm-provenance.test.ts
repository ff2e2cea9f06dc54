/**
 * Provenance through npm's own code (docs/design/npm-provenance.md): `npm publish --provenance` itself cannot run
 * here (it signs with sigstore's public Fulcio and logs to Rekor), so the publish body is built and sent by npm's
 * bundled libnpmpublish with `provenanceFile` — the path `npm publish --provenance-file <bundle>` takes: it reads the
 * bundle, checks its subject against the package exactly as npm does, and attaches it as npm attaches a generated
 * one. Then npm's bundled pacote, with `verifyAttestations` (what `npm audit signatures` uses), reads
 * `dist.attestations` from the packument at project, group and instance level, fetches the bundle from Wharf and
 * checks its subject name and digest against the installed version.
 *
 * Only sigstore's `verify` (the signature chain against sigstore's TUF root, unreachable from here) is replaced, by a
 * recorder: the bundle is made in the test and its signature is random bytes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageTgz } from '../helpers/npm.js';
import { LEVELS, nerfDart, startRegistry, type Registry } from '../helpers/npm-e2e.js';
import { provenanceText, SLSA_V1 } from '../helpers/npm-provenance.js';

const npmModules = path.join(execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim(), 'npm', 'node_modules');
const requireFromNpm = createRequire(path.join(npmModules, 'noop.js'));

type Publish = (manifest: Record<string, unknown>, tarball: Buffer, opts: Record<string, unknown>) => Promise<{ status: number }>;
type Manifest = (spec: string, opts: Record<string, unknown>) => Promise<Record<string, any>>;

describe('provenance with npm’s libnpmpublish and pacote', () => {
  let reg: Registry;
  const sigstore = requireFromNpm('sigstore') as Record<string, unknown>;
  const originalVerify = Object.getOwnPropertyDescriptor(sigstore, 'verify')!;
  const verified: unknown[] = [];
  const name = '@acme/widget';
  const manifest = { name, version: '1.0.0', main: 'index.js', license: 'MIT' };
  const tgz = packageTgz(manifest);
  const bundle = provenanceText(name, '1.0.0', tgz, { ci: 'github' });

  /** npm's flat options for one registry URL: the scope's registry and the token under its nerf dart. */
  const optsFor = (url: string) => ({ registry: url, '@acme:registry': url, [`${nerfDart(url)}:_authToken`]: reg.token, cache: path.join(reg.work, 'cache') });

  before(async () => {
    reg = await startRegistry('wharf-npm-provenance-');
    Object.defineProperty(sigstore, 'verify', {
      configurable: true,
      enumerable: true,
      value: async (b: unknown) => {
        verified.push(b);
      },
    });
  });
  after(async () => {
    Object.defineProperty(sigstore, 'verify', originalVerify);
    await reg?.close();
  });

  it('libnpmpublish sends the bundle as npm does, and Wharf stores it', async () => {
    const file = path.join(reg.work, 'widget.sigstore');
    writeFileSync(file, bundle);
    const publish = (requireFromNpm('libnpmpublish') as { publish: Publish }).publish;
    const res = await publish(manifest, tgz, { ...optsFor(reg.urls.project), provenanceFile: file, npmVersion: '11.0.0' });
    assert.equal(res.status, 200);
    assert.deepEqual(verified, [JSON.parse(bundle)], 'libnpmpublish checked the subject and handed the bundle to sigstore.verify');
  });

  it('npm applies the same subject rule before sending (Wharf’s own refusal of such a body: integration/npm-provenance.test.ts)', async () => {
    const file = path.join(reg.work, 'other.sigstore');
    const other = packageTgz({ ...manifest, version: '1.0.1', description: 'other' });
    writeFileSync(file, provenanceText(name, '1.0.1', other));
    const publish = (requireFromNpm('libnpmpublish') as { publish: Publish }).publish;
    const tarball = packageTgz({ ...manifest, version: '1.0.1' });
    await assert.rejects(publish({ ...manifest, version: '1.0.1' }, tarball, { ...optsFor(reg.urls.project), provenanceFile: file }), /Provenance subject digest does not match the package/);
    const doc = await reg.t.call('GET', `/api/v4/projects/${reg.projectId}/packages/npm/@acme%2fwidget`, { token: reg.token });
    assert.deepEqual(Object.keys(doc.body.versions), ['1.0.0']);
  });

  for (const level of LEVELS) {
    it(`pacote with verifyAttestations reads and checks the attestation at ${level} level`, async () => {
      const manifestOf = (requireFromNpm('pacote') as { manifest: Manifest }).manifest;
      const before = verified.length;
      const url = reg.urls[level];
      const mani = await manifestOf(`${name}@1.0.0`, { ...optsFor(url), [`${nerfDart(reg.base)}/api/v4/projects/:_authToken`]: reg.token, verifyAttestations: true, preferOnline: true });
      assert.deepEqual(mani._attestations, {
        url: `${url}-/npm/v1/attestations/@acme%2fwidget@1.0.0`,
        provenance: { predicateType: SLSA_V1 },
      });
      assert.equal(mani._attestationBundles.length, 1);
      assert.equal(mani._attestationBundles[0].predicateType, SLSA_V1);
      assert.deepEqual(mani._attestationBundles[0].bundle, JSON.parse(bundle));
      assert.deepEqual(verified.slice(before), [JSON.parse(bundle)], 'pacote checked the subject and digest, then asked sigstore to verify');
    });
  }
});
