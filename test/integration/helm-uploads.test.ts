/**
 * Hostile and concurrent uploads on SQLite and PostgreSQL: each refusal is a 400 with a clear message and leaves
 * nothing behind (no row, no blob, nothing listed); parallel uploads all land; the size limit is the setting's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { createProject } from '../helpers/management.js';
import { basic, buildChart, chartYaml, fixture, helmRepoUpdate, multipart, send, tar, tgz, upload, type FilePart, type RawResult } from '../helpers/helm.js';

const TABLES = ['packages', 'package_files', 'helm_file_metadata', 'helm_channels'] as const;

for (const dialect of DIALECTS) {
  describe(`Helm uploads: hostile input and concurrency [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    const auth = basic('root', ROOT_TOKEN);
    const url = (channel = 'stable') => `/api/v4/projects/${projectId}/packages/helm/api/${channel}/charts`;

    before(async () => {
      t = await startApp(dialect);
      projectId = (await createProject(t, 'charts', undefined, { visibility: 'private' })).id;
    });
    after(() => t.close());

    async function state(): Promise<Record<string, number>> {
      const db = t.deps.database.db;
      const out: Record<string, number> = {};
      for (const table of TABLES) {
        const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        out[table] = Number(r.n);
      }
      let blobs = 0;
      for await (const _ of t.deps.blobs.list()) blobs++;
      out.blobs = blobs;
      return out;
    }

    /** The upload must be a 400 whose message matches, and leave no trace. */
    async function refusedCleanly(parts: FilePart[] | (() => Promise<RawResult>), pattern: RegExp, check?: (r: RawResult) => void): Promise<void> {
      const before = await state();
      const r = typeof parts === 'function' ? await parts() : await upload(t, url('hostile'), auth, parts);
      assert.equal(r.status, 400, `${r.status} ${r.text}`);
      assert.match(String(r.body.error ?? ''), pattern);
      if (r.body.message) assert.equal(r.body.message, `400 Bad request - ${r.body.error}`);
      assert.deepEqual(await state(), before, 'a refused upload left rows or blobs behind');
      const { index } = await helmRepoUpdate(t, { url: `http://wharf.test/api/v4/projects/${projectId}/packages/helm/hostile`, username: 'root', password: ROOT_TOKEN });
      assert.deepEqual(index.entries, {});
      check?.(r);
    }
    const chart = (content: Buffer): FilePart[] => [{ field: 'chart', content }];
    const yamlChart = (yaml: string) => chart(tgz([{ path: 'evil/Chart.yaml', content: yaml }]));

    it('no chart part', () =>
      refusedCleanly([{ field: 'prov', content: fixture('signed/signtest-0.1.0.tgz.prov') }], /^chart is missing$/, (r) => assert.deepEqual(r.body, { error: 'chart is missing' })));
    it('garbage bytes', () => refusedCleanly(chart(randomBytes(4096)), /not a gzip-compressed tar file/));
    it('the corrupted fixture', () => refusedCleanly(chart(fixture('hostile/corrupted-compressed-chart.tgz')), /empty/));
    it('the empty fixture (a device file, no Chart.yaml)', () => refusedCleanly(chart(fixture('charts/empty-0.0.1.tgz')), /dev\/null/));
    it('gzip that is not a tar', () => refusedCleanly(chart(gzipSync(randomBytes(8192))), /not a valid tar archive/));
    it('a gzip bomb', () =>
      refusedCleanly(
        chart(Buffer.concat([gzipSync(tar([{ path: 'bomb/Chart.yaml', content: chartYaml('bomb', '1.0.0') }]).subarray(0, 1024)), ...Array.from({ length: 120 }, () => gzipSync(Buffer.alloc(1024 * 1024), { level: 9 }))])),
        /expands to more than 100 MiB/,
      ));
    it('a tar with ../ paths', () => refusedCleanly(chart(tgz([{ path: 'evil/Chart.yaml', content: chartYaml('evil', '1.0.0') }, { path: 'evil/../../../etc/cron.d/x', content: 'x' }])), /leaving the chart directory/));
    it('a tar with absolute paths', () => refusedCleanly(chart(tgz([{ path: '/etc/passwd', content: 'x' }, { path: 'evil/Chart.yaml', content: chartYaml('evil', '1.0.0') }])), /absolute path: \/etc\/passwd/));
    it('a tar with a symlink', () => refusedCleanly(chart(tgz([{ path: 'evil/Chart.yaml', content: chartYaml('evil', '1.0.0') }, { path: 'evil/values.yaml', type: 'SymbolicLink', linkpath: '/etc/shadow' }])), /link/));
    it('no Chart.yaml', () => refusedCleanly(chart(tgz([{ path: 'evil/values.yaml', content: 'a: 1\n' }])), /^Chart.yaml not found within a directory$/));
    it('Chart.yaml at the archive root', () => refusedCleanly(chart(tgz([{ path: 'Chart.yaml', content: chartYaml('evil', '1.0.0') }])), /^Chart.yaml not found within a directory$/));
    it('a YAML alias bomb', () => {
      const lol = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...Array.from({ length: 8 }, (_, i) => {
        const [me, prev] = [String.fromCharCode(98 + i), String.fromCharCode(97 + i)];
        return `${me}: &${me} [${Array(9).fill(`*${prev}`).join(',')}]`;
      })].join('\n');
      return refusedCleanly(yamlChart(`${chartYaml('evil', '1.0.0')}${lol}\n`), /YAML aliases are not allowed/);
    });
    it('Chart.yaml with an unknown key', () => refusedCleanly(yamlChart(`${chartYaml('evil', '1.0.0')}registry: docker.io\n`), /unknown key registry/));
    it('Chart.yaml with a wrong type', () => refusedCleanly(yamlChart('apiVersion: v2\nname: evil\nversion: 1.0.0\nappVersion: 1.10\n'), /appVersion must be a string/));
    it('Chart.yaml without apiVersion', () => refusedCleanly(chart(fixture('charts/compressedchart-with-hyphens-0.1.0.tgz')), /apiVersion is missing/));
    it('a name that breaks the rules', () => refusedCleanly(yamlChart(chartYaml('../evil', '1.0.0')), /^Validation failed: Name is invalid$/));
    it('a version that breaks the rules', () => refusedCleanly(yamlChart(chartYaml('evil', '1.0')), /version must be a string|Version is invalid/));
    it('a version that is not SemVer', () => refusedCleanly(yamlChart(chartYaml('evil', '"latest"')), /^Validation failed: Version is invalid$/));
    it('a Chart.yaml over 1 MB', () => refusedCleanly(yamlChart(`${chartYaml('evil', '1.0.0')}icon: "${'x'.repeat(1024 * 1024)}"\n`), /^Chart.yaml too big$/));
    it('a provenance part that is not one', () => refusedCleanly([{ field: 'chart', content: buildChart('evil', '1.0.0') }, { field: 'prov', content: Buffer.from('hello') }], /provenance file is invalid/));

    it('a file over helm_max_file_size, whatever the limit is set to; exactly at the limit passes', async () => {
      const body = buildChart('sized', '1.0.0', { padding: randomBytes(40 * 1024) });
      const setLimit = async (n: number) => assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_max_file_size: n } })).status, 200);
      try {
        await setLimit(body.length - 1);
        await refusedCleanly(chart(body), /^File is too large$/, (r) => assert.equal(r.body.message, '400 Bad request - File is too large'));
        // Also through a raw body, and with the chart after another (drained) part.
        await refusedCleanly(() => send(t, 'POST', url('hostile'), { headers: { authorization: auth }, payload: body }), /^File is too large$/);
        await setLimit(body.length);
        const ok = await upload(t, url(), auth, [{ field: 'junk', content: randomBytes(1000) }, { field: 'chart', content: body }]);
        assert.equal(ok.status, 201, ok.text);
      } finally {
        await setLimit(5 * 1024 * 1024);
      }
    });

    it('a malformed multipart body is a 400, not a 500', async () => {
      const { payload, contentType } = multipart([{ field: 'chart', content: buildChart('cut', '1.0.0') }]);
      const r = await send(t, 'POST', url('hostile'), { headers: { authorization: auth, 'content-type': contentType }, payload: payload.subarray(0, payload.length - 60) });
      assert.equal(r.status, 400, r.text);
    });

    it('50 parallel uploads of different charts to one channel: all 201, all listed', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => upload(t, url('parallel'), auth, chart(buildChart(`chart-${i}`, `1.${i}.0`)))),
      );
      assert.deepEqual(results.map((r) => r.status), Array(50).fill(201), results.find((r) => r.status !== 201)?.text);
      const { index } = await helmRepoUpdate(t, { url: `http://wharf.test/api/v4/projects/${projectId}/packages/helm/parallel`, username: 'root', password: ROOT_TOKEN });
      assert.equal(Object.keys(index.entries).length, 50);
      for (let i = 0; i < 50; i++) assert.equal(index.entries[`chart-${i}`]?.[0]?.version, `1.${i}.0`);
    });

    it('parallel pushes of one version: newest wins leaves exactly one; under deny exactly one push succeeds', async () => {
      const same = await Promise.all(Array.from({ length: 12 }, () => upload(t, url('race'), auth, chart(buildChart('race', '1.0.0')))));
      assert.deepEqual(same.map((r) => r.status), Array(12).fill(201));
      const repo = { url: `http://wharf.test/api/v4/projects/${projectId}/packages/helm/race`, username: 'root', password: ROOT_TOKEN };
      assert.equal((await helmRepoUpdate(t, repo)).index.entries.race?.length, 1);
      const live = await t.deps.database.db
        .selectFrom('package_files')
        .innerJoin('packages', 'packages.id', 'package_files.package_id')
        .select('package_files.id')
        .where('packages.name', '=', 'race')
        .where('package_files.status', '=', 'default')
        .execute();
      assert.equal(live.length, 1);
      assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_chart_overwrite_policy: 'deny' } })).status, 200);
      try {
        const denied = await Promise.all(Array.from({ length: 8 }, () => upload(t, url('race-deny'), auth, chart(buildChart('race', '1.0.0')))));
        assert.deepEqual(denied.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
      } finally {
        await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_chart_overwrite_policy: 'allow' } });
      }
    });

    it('helm_max_packages_count: unlimited by default; when set, the index lists the newest N packages', async () => {
      const settings = await t.call('GET', '/api/v4/application/settings', { token: ROOT_TOKEN });
      assert.equal(settings.body.helm_max_packages_count, null);
      for (const v of ['1.0.0', '1.1.0', '1.2.0']) assert.equal((await upload(t, url('capped'), auth, chart(buildChart('capped', v)))).status, 201);
      const repo = { url: `http://wharf.test/api/v4/projects/${projectId}/packages/helm/capped`, username: 'root', password: ROOT_TOKEN };
      assert.equal((await helmRepoUpdate(t, repo)).index.entries.capped?.length, 3);
      assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_max_packages_count: 2 } })).status, 200);
      try {
        assert.deepEqual((await helmRepoUpdate(t, repo)).index.entries.capped?.map((e) => e.version), ['1.2.0', '1.1.0']);
      } finally {
        await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_max_packages_count: null } });
      }
      assert.equal((await helmRepoUpdate(t, repo)).index.entries.capped?.length, 3);
    });
  });
}
