/** index.yaml rendering: GitLab's bytes (docs/design/gitlab-compatibility.md#helm-index), Helm's strict reading (docs/design/client-protocols.md#helm-repo-add, #reading-indexyaml). */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { readChartArchive } from '../../src/archive/helm-chart.js';
import { parseChartYaml, type ChartMetadata } from '../../src/domain/helm/chart-yaml.js';
import { helmContextPath, helmTimestamp, renderIndexYaml, type IndexChart } from '../../src/domain/helm/index-yaml.js';
import { emitYamlDocument, scalar } from '../../src/domain/helm/yaml-emit.js';
import { FIXTURES, fixture, loadIndexStrict, sha256 } from '../helpers/helm.js';

const meta = (m: Partial<ChartMetadata> & { name: string; version: string }): ChartMetadata => ({ apiVersion: 'v2', ...m }) as ChartMetadata;
const chart = (m: ChartMetadata, fileId = 1, created = '2024-05-01T10:20:30.123Z'): IndexChart => ({
  metadata: m,
  created,
  sha256: 'fd2b2fa0329e80a2a602c2bb3b40608bcd6ee5cf96cf46fd0d2800a4c129c9db',
  fileId,
});

describe('index.yaml', () => {
  it('renders GitLab\'s document layout, every string double-quoted', () => {
    const text = renderIndexYaml({
      charts: [
        chart({
          name: 'mychart',
          version: '0.1.0',
          apiVersion: 'v2',
          appVersion: '1.16.0',
          description: 'A Helm chart for Kubernetes',
          type: 'application',
        }),
      ],
      generated: '2024-05-02T08:00:00.000Z',
      contextPath: '/api/v4/projects/42/packages/helm',
    });
    assert.equal(
      text,
      [
        '---',
        'apiVersion: v1',
        'entries:',
        '  "mychart":',
        '  - name: "mychart"',
        '    version: "0.1.0"',
        '    apiVersion: "v2"',
        '    appVersion: "1.16.0"',
        '    description: "A Helm chart for Kubernetes"',
        '    type: "application"',
        '    created: "2024-05-01T10:20:30.123000000Z"',
        '    digest: "fd2b2fa0329e80a2a602c2bb3b40608bcd6ee5cf96cf46fd0d2800a4c129c9db"',
        '    urls:',
        '    - "charts/mychart-0.1.0.tgz"',
        'generated: "2024-05-02T08:00:00.000000000Z"',
        'serverInfo:',
        '  contextPath: "/api/v4/projects/42/packages/helm"',
        '',
      ].join('\n'),
    );
    assert.ok(text.startsWith('---\napiVersion: v1\nentries:\n'));
  });

  it('renders an empty channel as `entries: {}`', () => {
    const text = renderIndexYaml({ charts: [], generated: '2024-05-02T08:00:00.000Z', contextPath: '/api/v4/projects/1/packages/helm' });
    assert.equal(text, '---\napiVersion: v1\nentries: {}\ngenerated: "2024-05-02T08:00:00.000000000Z"\nserverInfo:\n  contextPath: "/api/v4/projects/1/packages/helm"\n');
    assert.deepEqual(loadIndexStrict(text).entries, {});
  });

  it('double-quotes every appVersion, as GitLab does (`4852e000`, `1.10`, `master`, `v1.0.0`)', () => {
    for (const appVersion of ['4852e000', '1.10', 'master', 'v1.0.0', '1.0', 'yes', 'say "hi"']) {
      const text = renderIndexYaml({ charts: [chart(meta({ name: 'a', version: '1.0.0', appVersion }))], generated: '2024-01-01T00:00:00Z', contextPath: '/c' });
      assert.ok(text.includes(`    appVersion: ${JSON.stringify(appVersion)}\n`), text);
      assert.equal(loadIndexStrict(text).entries.a?.[0]?.appVersion, appVersion);
    }
  });

  it('quotes every string YAML 1.1 would read as something else, so Helm gets strings back', () => {
    const tricky = ['1.10', '1e3', '0123', '0x1F', '1_000', '1:30', '.5', '.inf', '.NaN', 'yes', 'No', 'on', 'OFF', 'y', 'n', '~', 'null', 'true',
      '2024-01-01', '', ' lead', 'trail ', '- dash', '? q', ': colon', 'a: b', 'a #b', '#c', '[x]', '{y}', '*alias', '&anchor', '!tag', '|', '>',
      "'", '"', '%', '@at', '`tick', 'tab\there', 'line\nbreak', 'nul\u0000', 'bom\ufeff', '<<', '='];
    const m = meta({ name: 'a', version: '1.0.0', description: 'plain', keywords: tricky, annotations: Object.fromEntries(tricky.filter(Boolean).map((t, i) => [t, `${i}`])) });
    const text = renderIndexYaml({ charts: [chart(m)], generated: '2024-01-01T00:00:00Z', contextPath: '/c' });
    const read = loadIndexStrict(text).entries.a?.[0];
    assert.deepEqual(read?.keywords, tricky);
    assert.deepEqual(read?.annotations, m.annotations);
    // And the same holds for a YAML 1.2 reader.
    assert.deepEqual((YAML.parse(text) as any).entries.a[0].keywords, tricky);
    assert.equal(scalar('plain words'), '"plain words"');
    assert.equal(scalar('1.10'), '"1.10"');
    assert.equal(scalar("it's"), '"it\'s"');
  });

  it('lists only the keys Helm knows, even if a stored row held more', () => {
    const m = { ...meta({ name: 'a', version: '1.0.0' }), extra: 'no', urls: ['x'] } as unknown as ChartMetadata;
    const text = renderIndexYaml({ charts: [chart(m)], generated: '2024-01-01T00:00:00Z', contextPath: '/c' });
    const entry = loadIndexStrict(text).entries.a?.[0];
    assert.equal(entry?.extra, undefined);
    assert.deepEqual(entry?.urls, ['charts/a-1.0.0.tgz']);
  });

  it('sorts charts by name and versions newest first by SemVer, as Helm\'s SortEntries', () => {
    const versions = ['1.0.0', '1.10.0', '1.2.0', '2.0.0-rc.1', '2.0.0', 'v1.5.0', '0.9.9', '2.0.0-alpha'];
    const charts = versions.map((v, i) => chart(meta({ name: 'b', version: v }), i + 1));
    charts.push(chart(meta({ name: 'a', version: '1.0.0' }), 100));
    const index = loadIndexStrict(renderIndexYaml({ charts, generated: '2024-01-01T00:00:00Z', contextPath: '/c' }));
    assert.deepEqual(Object.keys(index.entries), ['a', 'b']);
    assert.deepEqual(
      index.entries.b?.map((e) => e.version),
      ['2.0.0', '2.0.0-rc.1', '2.0.0-alpha', '1.10.0', 'v1.5.0', '1.2.0', '1.0.0', '0.9.9'],
    );
  });

  it('renders every accepted fixture into an index Helm loads strictly', async () => {
    const charts: IndexChart[] = [];
    let id = 0;
    for (const dir of ['charts', 'signed']) {
      for (const file of readdirSync(path.join(FIXTURES, dir)).filter((f) => f.endsWith('.tgz'))) {
        const bytes = fixture(`${dir}/${file}`);
        try {
          const m = parseChartYaml((await readChartArchive(bytes)).chartYaml);
          charts.push({ metadata: m, created: '2026-01-01T00:00:00.000Z', sha256: sha256(bytes), fileId: ++id });
        } catch {
          // refused fixtures are covered by the archive and Chart.yaml tests
        }
      }
    }
    assert.ok(charts.length >= 14, `${charts.length} fixtures accepted`);
    const index = loadIndexStrict(renderIndexYaml({ charts, generated: '2026-01-01T00:00:00Z', contextPath: '/api/v4/projects/7/packages/helm' }));
    assert.equal(index.serverInfo?.contextPath, '/api/v4/projects/7/packages/helm');
    const frob = index.entries.frobnitz?.[0];
    assert.deepEqual(frob?.maintainers?.[1], { name: 'Someone Else', email: 'nobody@example.com' });
    assert.equal(frob?.dependencies?.[1]?.version, '4.3.2');
    assert.equal(index.entries['chart-with-compressed-dependencies']?.[0]?.appVersion, '4.9.8');
  });

  it('formats times with nine fraction digits and the context path under the external URL\'s path', () => {
    assert.equal(helmTimestamp('2026-06-01T12:00:00.000Z'), '2026-06-01T12:00:00.000000000Z');
    assert.equal(helmTimestamp('2026-06-01T12:00:00.5+02:00'), '2026-06-01T10:00:00.500000000Z');
    assert.equal(helmContextPath('https://host.example', 42), '/api/v4/projects/42/packages/helm');
    assert.equal(helmContextPath('https://host.example/wharf/', 42), '/wharf/api/v4/projects/42/packages/helm');
  });

  it('lays out nested structures the way Psych does', () => {
    assert.equal(
      emitYamlDocument({ a: [{ b: 'c', d: ['e'] }, [], {}], f: { g: { h: 'i' } }, j: true, k: [['x']] }),
      '---\n"a":\n- "b": "c"\n  "d":\n  - "e"\n- []\n- {}\n"f":\n  "g":\n    "h": "i"\n"j": true\n"k":\n-\n  - "x"\n',
    );
  });
});
