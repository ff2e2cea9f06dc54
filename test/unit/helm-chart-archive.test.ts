/**
 * The chart archive reader against the real `helm package` fixtures and against archives built to be hostile:
 * every refusal is a 400 AppError with a message that names the problem.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { chartArchiveReader, readChartArchive, DEFAULT_CHART_LIMITS } from '../../src/archive/helm-chart.js';
import { AppError } from '../../src/domain/errors.js';
import { fixture, tar, tgz } from '../helpers/helm.js';

async function refused(source: Buffer | Readable, pattern: RegExp, limits = DEFAULT_CHART_LIMITS): Promise<void> {
  await assert.rejects(readChartArchive(source, limits), (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.match(String(err.body.error), pattern);
    assert.equal(err.body.message, `400 Bad request - ${String(err.body.error)}`);
    return true;
  });
}

const CHART_YAML = 'apiVersion: v2\nname: demo\nversion: 1.0.0\n';

describe('chart archives: the helm package fixtures', () => {
  const accepted: Array<[string, string, RegExp]> = [
    ['charts/sprocket-1.1.0.tgz', 'sprocket', /name: sprocket/],
    ['charts/compressedchart-0.2.0.tgz', 'compressedchart', /version: 0.2.0/],
    ['charts/frobnitz-1.2.3.tgz', 'frobnitz', /name: frobnitz\n/],
    ['charts/frobnitz-apiv3-1.2.3.tgz', 'frobnitz', /apiVersion: v3/],
    ['charts/frobnitz.v1.tgz', 'frobnitz.v1', /name: frobnitz\n/],
    ['charts/frobnitz_backslash-1.2.3.tgz', 'frobnitz_backslash', /name: frobnitz_backslash/],
    ['charts/chart-with-compressed-dependencies-2.1.8.tgz', 'chart-with-compressed-dependencies', /version: 2.1.8/],
    ['charts/reqtest-0.1.0.tgz', 'reqtest', /name: reqtest/],
    ['charts/pre-release-chart-0.1.0-alpha.tgz', 'pre-release-chart', /0.1.0-alpha/],
    ['signed/signtest-0.1.0.tgz', 'signtest', /name: signtest/],
  ];
  for (const [file, dir, content] of accepted) {
    it(`reads ${file}: the top-level Chart.yaml, not a subchart's`, async () => {
      const archive = await readChartArchive(fixture(file));
      assert.equal(archive.directory, dir);
      assert.match(archive.chartYaml.toString('utf8'), content);
      // Subcharts under charts/ have their own Chart.yaml; the chart's own one is the one at depth one.
      assert.doesNotMatch(archive.chartYaml.toString('utf8'), /^name: (alpine|mariadb|mast1|reqsubchart\d?)$/m);
    });
  }

  it('keeps the byte-order mark for the YAML layer to strip (frobnitz_with_bom)', async () => {
    const archive = await readChartArchive(fixture('charts/frobnitz_with_bom.tgz'));
    assert.deepEqual([...archive.chartYaml.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  });

  it('reads a streamed archive in small chunks the same way', async () => {
    const bytes = fixture('charts/frobnitz-1.2.3.tgz');
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
    const archive = await readChartArchive(Readable.from(chunks));
    assert.equal(archive.directory, 'frobnitz');
  });

  it('refuses the empty chart (its only entry is a character device, dev/null)', () =>
    refused(fixture('charts/empty-0.0.1.tgz'), /dev\/null.*neither a file nor a directory/));

  it('refuses the corrupted fixture (zero bytes)', () => refused(fixture('hostile/corrupted-compressed-chart.tgz'), /empty/));
});

describe('chart archives: hostile input', () => {
  it('refuses bytes that are not gzip', () => refused(Buffer.from('this is not a chart at all'), /not a gzip-compressed tar/));
  it('refuses a plain tar (not compressed)', () => refused(tar([{ path: 'demo/Chart.yaml', content: CHART_YAML }]), /not a gzip/));
  it('refuses a truncated gzip stream', async () => {
    const whole = tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'demo/big', content: randomBytes(4000) }]);
    await refused(whole.subarray(0, whole.length - 100), /not a valid gzip file/);
  });
  it('refuses gzip that does not hold a tar', () => refused(gzipSync(Buffer.from('just some text, no tar headers here '.repeat(40))), /not a valid tar/));
  it('refuses a tar.gz inside a gzip (compressed twice)', () => refused(gzipSync(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }])), /compressed twice/));

  it('refuses a gzip bomb before expanding it', async () => {
    // Gzip members concatenate; each megabyte of zeros compresses to about 1 KB, so 150 KB expand to 150 MiB.
    const megabyte = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    const head = gzipSync(tar([{ path: 'demo/Chart.yaml', content: CHART_YAML }]).subarray(0, 1024));
    const bomb = Buffer.concat([head, ...Array.from({ length: 150 }, () => megabyte)]);
    assert.ok(bomb.length < 300 * 1024, `bomb is ${bomb.length} bytes`);
    await refused(bomb, /^Chart archive expands to more than 100 MiB$/);
  });

  it('refuses a bomb inside one entry by its declared size', async () => {
    const entry = tar([{ path: 'demo/zeros', content: Buffer.alloc(64 * 1024 * 1024) }]);
    await refused(gzipSync(Buffer.concat([tar([{ path: 'demo/Chart.yaml', content: CHART_YAML }]).subarray(0, 1024), entry])), /demo\/zeros is larger than 5 MiB/);
  });

  it('refuses an entry larger than the per-file limit', () =>
    refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'demo/huge.bin', content: Buffer.alloc(6 * 1024 * 1024) }]), /demo\/huge.bin is larger than 5 MiB/));

  it('refuses an archive over the configured size limit', () =>
    refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'demo/noise', content: randomBytes(64 * 1024) }]), /^File is too large$/, {
      ...DEFAULT_CHART_LIMITS,
      maxArchiveBytes: 32 * 1024,
    }));

  const paths: Array<[string, RegExp]> = [
    ['../evil/Chart.yaml', /leaving the chart directory/],
    ['demo/../../etc/passwd', /leaving the chart directory/],
    ['demo/templates/../../../x', /leaving the chart directory/],
    ['/etc/passwd', /absolute path/],
    ['C:/Windows/system.ini', /absolute path/],
    ['demo/C:/Windows/system.ini', /absolute path/],
    ['demo\\..\\..\\x', /leaving the chart directory/],
  ];
  for (const [path, pattern] of paths) {
    it(`refuses the path ${JSON.stringify(path)}`, () =>
      refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path, content: 'x' }]), pattern));
  }

  it('refuses symbolic links and hard links, even after a valid Chart.yaml', async () => {
    await refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'demo/passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), /link/);
    await refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'demo/copy', type: 'Link', linkpath: 'demo/Chart.yaml' }]), /link/);
    await refused(tgz([{ path: 'demo/Chart.yaml', type: 'SymbolicLink', linkpath: '/etc/hostname' }]), /link/);
  });

  it('refuses FIFOs and devices', () => refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'demo/pipe', type: 'FIFO' }]), /neither a file nor a directory/));

  it('refuses an archive without Chart.yaml, and a Chart.yaml at the archive root (GitLab: not within a directory)', async () => {
    await refused(tgz([{ path: 'demo/values.yaml', content: 'a: 1\n' }]), /^Chart.yaml not found within a directory$/);
    await refused(tgz([{ path: 'Chart.yaml', content: CHART_YAML }]), /^Chart.yaml not found within a directory$/);
    // An archive with no entry at all is not taken for a tar (node-tar, like Helm: "no files in chart archive").
    await refused(tgz([]), /not a valid tar archive/);
  });

  it('refuses files outside the chart directory', () =>
    refused(tgz([{ path: 'demo/Chart.yaml', content: CHART_YAML }, { path: 'README.md', content: 'x' }]), /outside the chart directory: README.md/));

  it('refuses a Chart.yaml over 1 MB (GitLab: Chart.yaml too big)', () =>
    refused(tgz([{ path: 'demo/Chart.yaml', content: `${CHART_YAML}description: "${'x'.repeat(1024 * 1024)}"\n` }]), /^Chart.yaml too big$/));

  it('refuses two chart directories each with a Chart.yaml', () =>
    refused(tgz([{ path: 'a/Chart.yaml', content: CHART_YAML }, { path: 'b/Chart.yaml', content: CHART_YAML }]), /more than one top-level directory \("a" and "b"\)/));

  it('refuses a second top-level directory even without a Chart.yaml: Helm would load its files into the chart', async () => {
    const chart = { path: 'demo/Chart.yaml', content: CHART_YAML };
    await refused(tgz([chart, { path: 'zzz/templates/evil.yaml', content: 'kind: ClusterRoleBinding\n' }]), /more than one top-level directory \("demo" and "zzz"\)/);
    await refused(tgz([chart, { path: 'zzz/values.yaml', content: 'image: evil\n' }]), /more than one top-level directory/);
    await refused(tgz([{ path: 'zzz/', type: 'Directory' }, chart]), /more than one top-level directory/);
    await refused(tgz([chart, { path: './values.yaml', content: 'a: 1\n' }]), /more than one top-level directory \("demo" and "\."\)/);
  });

  it('refuses a file Helm would load twice under one name (the last one wins, or merges into Chart.yaml)', async () => {
    const chart = { path: 'demo/Chart.yaml', content: CHART_YAML };
    await refused(tgz([chart, { path: 'demo/values.yaml', content: 'a: 1\n' }, { path: 'demo/values.yaml', content: 'a: 2\n' }]), /holds values.yaml more than once/);
    await refused(tgz([chart, { path: 'demo/values.yaml', content: 'a: 1\n' }, { path: 'demo/./values.yaml', content: 'a: 2\n' }]), /holds values.yaml more than once/);
    await refused(tgz([chart, { path: 'demo/templates/a.yaml', content: '' }, { path: 'demo/templates//a.yaml', content: '' }]), /holds templates\/a.yaml more than once/);
    await refused(tgz([chart, { path: 'demo/./Chart.yaml', content: 'name: other\n' }]), /more than one chart directory|more than once/);
    // Helm splits `demo/x\\Chart.yaml` on the backslash only: to it, that is `Chart.yaml` again.
    await refused(tgz([chart, { path: 'demo/x\\Chart.yaml', content: 'name: other\n' }]), /mixing \/ and \\ separators/);
    // `demo//Chart.yaml` is `/Chart.yaml` to Helm once `demo` is stripped: an absolute path.
    await refused(tgz([{ path: 'demo//Chart.yaml', content: CHART_YAML }]), /absolute path/);
  });

  it('accepts `./Chart.yaml` (tar -C chart .) and Windows separators, as Helm does', async () => {
    assert.equal((await readChartArchive(tgz([{ path: './Chart.yaml', content: CHART_YAML }]))).directory, '.');
    const win = await readChartArchive(tgz([{ path: 'demo\\Chart.yaml', content: CHART_YAML }, { path: 'demo\\templates\\a.yaml', content: 'x' }]));
    assert.equal(win.directory, 'demo');
  });

  it('keeps accepting bytes after a refusal, so a tee feeding it never stalls', async () => {
    const { writable, result } = chartArchiveReader();
    const done = new Promise<void>((resolve) => writable.on('finish', () => resolve()));
    writable.write(Buffer.from('not gzip'));
    for (let i = 0; i < 100; i++) writable.write(randomBytes(64 * 1024));
    writable.end();
    await done;
    await assert.rejects(result, /not a gzip/);
  });
});
