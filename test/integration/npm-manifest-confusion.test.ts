/**
 * Manifest confusion (issue 12, finding 6), on SQLite and PostgreSQL: npm installs the tarball, stripping the
 * first path component of every entry, while it resolves dependencies and decides on install scripts from the
 * registry's version document. Wharf must refuse tarballs in which npm would find another package.json than the
 * one Wharf read, and must serve, for every install-relevant field, what the tarball's package.json says — not
 * what the publish body claims.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, makeTgz, npmBase, publish, publishBody, refusedWithNothingStored, type NpmWorld } from '../helpers/npm.js';

const NAME = '@privgrp/confused';
const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const HOSTILE = { name: NAME, version: '1.0.0', dependencies: { 'evil-dep': '^6.6.6' }, scripts: { postinstall: 'node -e "require(\'evil-dep\')"' } };

for (const dialect of DIALECTS) {
  describe(`npm manifest confusion [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let pid: number;

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      pid = w.project.private;
    });
    after(async () => t.close());

    /** The body an honest package.json would produce, carrying `tgz` as its attachment. */
    const bodyFor = (version: string, tgz: Buffer, extra: Record<string, unknown> = {}) => publishBody(NAME, version, { tgz, extra }).body;
    const refused = async (body: unknown, message: RegExp) => {
      const r = await refusedWithNothingStored(t, () => publish(t, pid, body, w.token.developer));
      assert.equal(r.status, 400, r.text);
      assert.match(String(r.body.error), message);
    };
    const packument = async (accept?: string) => {
      const r = await t.call('GET', `${npmBase(pid)}/${esc(NAME)}`, { headers: { ...bearer(w.token.developer), ...(accept ? { accept } : {}) } });
      assert.equal(r.status, 200, r.text);
      return r.body;
    };

    it('refuses a hidden package.json in a second top-level directory (npm would install that one)', async () => {
      const tgz = makeTgz([
        { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '1.0.0' }) },
        { path: 'package/index.js', content: 'module.exports = 1;' },
        { path: 'zzz/package.json', content: JSON.stringify(HOSTILE) },
      ]);
      await refused(bodyFor('1.0.0', tgz), /Invalid package file: entries lie in more than one top-level directory \("package\/" and "zzz\/"\)/);
    });

    it('refuses a second package.json that lands on the same file once stripped (case, //, backslash)', async () => {
      const benign = { path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '1.1.0' }) };
      for (const [path, message] of [
        ['package/PACKAGE.json', /package\.json appears more than once/],
        ['package//package.json', /empty or "\." path segment/],
        ['package\\package.json', /package\.json appears more than once/],
      ] as const) {
        await refused(bodyFor('1.1.0', makeTgz([benign, { path, content: JSON.stringify({ ...HOSTILE, version: '1.1.0' }) }])), message);
      }
    });

    it('refuses a body that hides the tarball’s install scripts and dependency (dependencies: {}, no scripts)', async () => {
      const tgz = makeTgz([{ path: 'package/package.json', content: JSON.stringify({ ...HOSTILE, version: '1.2.0' }) }]);
      await refused(bodyFor('1.2.0', tgz, { dependencies: {} }), /Package manifest is not coherent: the scripts in the tarball's package\.json differ/);
    });

    it('serves the tarball’s dependencies, bin, engines, os/cpu and implied install script, not the body’s', async () => {
      const inTarball = {
        name: NAME,
        version: '2.0.0',
        dependencies: { 'evil-dep': '^6.6.6' },
        optionalDependencies: { 'evil-opt': '1.0.0' },
        bin: 'cli.js',
        engines: { node: '>=18' },
        os: ['linux'],
        cpu: ['x64'],
      };
      const tgz = makeTgz([
        { path: 'package/package.json', content: JSON.stringify(inTarball) },
        { path: 'package/cli.js', content: '#!/usr/bin/env node\n' },
        // npm builds a package with a *.gyp file at its root with `node-gyp rebuild` on install.
        { path: 'package/binding.gyp', content: '{"targets":[]}' },
        { path: 'package/npm-shrinkwrap.json', content: '{"lockfileVersion":3}' },
      ]);
      // The body claims a harmless package: no dependencies, no bin, no install script, any platform.
      const r = await publish(t, pid, bodyFor('2.0.0', tgz, { dependencies: {}, hasInstallScript: false, _hasShrinkwrap: false }), w.token.developer);
      assert.equal(r.status, 200, r.text);

      const full = (await packument()).versions['2.0.0'];
      const abbreviated = (await packument(ABBREVIATED)).versions['2.0.0'];
      for (const v of [full, abbreviated]) {
        assert.deepEqual(v.dependencies, { 'evil-dep': '^6.6.6' });
        assert.deepEqual(v.optionalDependencies, { 'evil-opt': '1.0.0' });
        assert.deepEqual(v.bin, { confused: 'cli.js' });
        assert.deepEqual(v.engines, { node: '>=18' });
        assert.deepEqual([v.os, v.cpu], [['linux'], ['x64']]);
        assert.equal(v.hasInstallScript, true);
        assert.equal(v._hasShrinkwrap, true);
      }
      assert.deepEqual(full.scripts, { install: 'node-gyp rebuild' });
      assert.equal(full.gypfile, true);
    });

    it('drops install-relevant fields the body invents and the tarball lacks', async () => {
      const tgz = makeTgz([{ path: 'package/package.json', content: JSON.stringify({ name: NAME, version: '3.0.0' }) }]);
      const r = await publish(t, pid, bodyFor('3.0.0', tgz, { peerDependencies: { react: '*' }, bin: { x: 'x.js' }, os: ['!linux'], hasInstallScript: true }), ROOT_TOKEN);
      assert.equal(r.status, 200, r.text);
      const v = (await packument(ABBREVIATED)).versions['3.0.0'];
      for (const field of ['peerDependencies', 'bin', 'os', 'hasInstallScript']) assert.equal(v[field], undefined, field);
    });
  });
}
