/** GitLab's Helm naming rules (Appendix A), file names, version order, overwrite policy, provenance files. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/domain/errors.js';
import { parseProvenance, signedSha256 } from '../../src/domain/helm/provenance.js';
import {
  chartFileName,
  compareVersionsDescending,
  isValidChannel,
  isValidChartVersion,
  overwriteDecision,
  provenanceFileName,
  splitChartFileName,
} from '../../src/domain/helm/rules.js';
import { fixture, sha256 } from '../helpers/helm.js';

describe('Helm rules', () => {
  it('channel: helm_channel_regex', () => {
    for (const ok of ['stable', 'with.dot', 'a', 'A1', 'my-channel_2.x', 'a'.repeat(255), 'a-'.repeat(254) + 'a']) assert.ok(isValidChannel(ok), ok);
    for (const bad of ['', '-a', 'a-', '.a', 'a.', 'a--b', 'a._b', 'a b', 'a/b', 'ä', 'a'.repeat(256), 'a-'.repeat(255) + 'a', 'a\n']) {
      assert.ok(!isValidChannel(bad), JSON.stringify(bad));
    }
  });

  it('channel check stays fast on hostile input', () => {
    const started = Date.now();
    for (let i = 0; i < 200; i++) isValidChannel(`${'a-'.repeat(250)}!`);
    assert.ok(Date.now() - started < 500);
  });

  it('version: optional v plus strict SemVer', () => {
    for (const ok of ['0.0.0', 'v1.2.3', '1.2.3-alpha.1+build.7', '10.20.30-rc.1']) assert.ok(isValidChartVersion(ok), ok);
    for (const bad of ['1.2', '01.2.3', '1.2.3-01', 'V1.2.3', '1.2.3 ', '', 'latest']) assert.ok(!isValidChartVersion(bad), bad);
  });

  it('file names, and the (name, version) pairs a file name can stand for', () => {
    assert.equal(chartFileName('a', '1.0.0'), 'a-1.0.0.tgz');
    assert.equal(provenanceFileName('a', '1.0.0'), 'a-1.0.0.tgz.prov');
    assert.deepEqual(splitChartFileName('my-chart-1.0.0-rc.1.tgz'), [{ name: 'my-chart', version: '1.0.0-rc.1' }]);
    assert.deepEqual(splitChartFileName('a-1.0.0-1.0.0.tgz'), [
      { name: 'a', version: '1.0.0-1.0.0' },
      { name: 'a-1.0.0', version: '1.0.0' },
    ]);
    assert.deepEqual(splitChartFileName('frobnitz-v1.2.3.tgz'), [{ name: 'frobnitz', version: 'v1.2.3' }]);
    assert.deepEqual(splitChartFileName('nothing.tgz'), []);
    assert.deepEqual(splitChartFileName('a-1.0.0.zip'), []);
  });

  it('orders versions newest first, pre-releases below their release, `v` ignored', () => {
    const sorted = ['1.0.0', 'v2.0.0', '2.0.0-rc.1', '1.10.0', '1.9.0'].sort(compareVersionsDescending);
    assert.deepEqual(sorted, ['v2.0.0', '2.0.0-rc.1', '1.10.0', '1.9.0', '1.0.0']);
  });

  it('overwrite policy: allow, require_force (ChartMuseum), deny', () => {
    assert.deepEqual(overwriteDecision('allow', false), { allowed: true });
    assert.deepEqual(overwriteDecision('require_force', true), { allowed: true });
    assert.equal(overwriteDecision('require_force', false).allowed, false);
    assert.equal(overwriteDecision('deny', true).allowed, false);
  });
});

describe('provenance files', () => {
  it('reads the signed fixtures: chart name, version, and the archive digest they vouch for', () => {
    for (const [file, name, version] of [['signed/signtest-0.1.0.tgz', 'signtest', '0.1.0'], ['signed/hashtest-1.2.3.tgz', 'hashtest', '1.2.3']] as const) {
      const prov = parseProvenance(fixture(`${file}.prov`));
      assert.equal(prov.name, name);
      assert.equal(prov.version, version);
      assert.equal(signedSha256(prov), sha256(fixture(file)));
    }
  });

  it('undoes dash-escaping (RFC 4880 §7.1) and tolerates CRLF line ends', () => {
    // Signed lines starting with `-` are sent as `- -…`; a keywords list in the metadata is the usual case.
    const original = fixture('signed/hashtest-1.2.3.tgz.prov').toString('utf8');
    const escaped = original.replace('name: hashtest\n', 'keywords:\n- - web\nname: hashtest\n').replace(/\n/g, '\r\n');
    const prov = parseProvenance(Buffer.from(escaped));
    assert.equal(prov.name, 'hashtest');
    assert.equal(signedSha256(prov), sha256(fixture('signed/hashtest-1.2.3.tgz')));
  });

  it('refuses what is not a clear-signed provenance file', () => {
    const bad = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseProvenance(Buffer.from(text)),
        (err: unknown) => err instanceof AppError && err.status === 400 && pattern.test(String(err.body.error)),
      );
    bad('apiVersion: v1\nname: x\n', /not an OpenPGP clear-signed message/);
    bad('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: x\nversion: 1.0.0\n', /not an OpenPGP clear-signed message/);
    const wrap = (body: string) => `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${body}\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n`;
    bad(wrap('name: x\nversion: 1.0.0\nfiles: {}'), /no `...` line/);
    bad(wrap('name: x\n\n...\nfiles:\n  x-1.0.0.tgz: sha256:00'), /no version/);
    bad(wrap('name: x\nversion: 1.0.0\n\n...\nnofiles: 1'), /no `files:` mapping/);
    bad(wrap('name: &a x\nversion: *a\n\n...\nfiles: {}'), /aliases/);
    const ok = parseProvenance(Buffer.from(wrap('name: x\nversion: 1.0.0\n\n...\nfiles:\n  x-1.0.0.tgz: sha256:00')));
    assert.equal(signedSha256(ok), undefined, 'a malformed digest vouches for nothing');
  });
});
