/**
 * `index.yaml` as the real helm 3 and helm 4 read it (go-yaml v2 under sigs.k8s.io/yaml, YAML 1.1 line breaks).
 *
 * A Developer uploads charts whose Chart.yaml strings are hostile: U+2028 carrying a forged entry that points at a
 * foreign URL (the attack that made helm list three charts from one upload), U+2029, quotes, line breaks, `# `,
 * `: `, leading indicators, YAML 1.1 booleans and numbers, empty strings... Then the real helm adds the repository,
 * updates, searches, pulls, and re-reads the index it cached; it must see exactly the uploaded charts with exactly
 * the stored values. Control characters are refused at upload with a 400.
 *
 * What helm shows is what it stored after its own `Metadata.Validate`, which replaces whitespace with spaces and
 * drops unprintable characters in every metadata string except annotations and import-values. `helmView()` applies
 * the same rule to what Wharf stored, and `helm repo index --merge … --json` (which loads an index exactly as `helm
 * repo update` does and writes back, as JSON, everything it read) shows every field, not only the four `helm search`
 * prints.
 *
 * The second suite feeds helm the emitter's output directly for inputs upload now refuses (C0/C1 controls, NEL,
 * lone surrogates) and for keys too long to be simple YAML keys, since the emitter must be safe on its own.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { readChartArchive } from '../../src/archive/helm-chart.js';
import { parseChartYaml, type ChartMetadata } from '../../src/domain/helm/chart-yaml.js';
import { renderIndexYaml } from '../../src/domain/helm/index-yaml.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { buildChart, fixture } from '../helpers/helm.js';
import { helmBinary, type HelmMajor } from '../helpers/helm-binary.js';
import { run, type Run } from '../helpers/npm-e2e.js';
import { startWharf, type WharfProcess } from '../helpers/process.js';

const MAJORS: readonly HelmMajor[] = [3, 4];
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// --- what helm does with what it reads -------------------------------------------------------------------------

/** Helm's `sanitizeString`: Go's `unicode.IsSpace` becomes a space, what `unicode.IsPrint` refuses is dropped. */
const sanitize = (s: string): string => s.replace(/\p{White_Space}/gu, ' ').replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu, '');

/**
 * An entry as helm holds it after loading: metadata strings sanitized (annotations and import-values excepted), and,
 * as `helm repo index` writes it back (Go's `omitempty`), empty strings, `false` and empty lists left out.
 */
function helmView(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return key === 'annotations' || key === 'import-values' ? value : sanitize(value);
  if (Array.isArray(value)) return value.map((v) => helmView(v, key));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const inner = key === 'annotations' || key === 'import-values' ? key : k;
      const view = helmView(v, inner);
      // Map entries (annotations) are kept whatever they hold; struct fields are omitted when empty.
      if (key !== 'annotations' && (view === '' || view === false || (Array.isArray(view) && view.length === 0))) continue;
      out[k] = view;
    }
    return out;
  }
  return value;
}

// --- hostile strings ---------------------------------------------------------------------------------------------

const LS = '\u2028';

/**
 * The reported attack: a description whose U+2028 line breaks (to YAML 1.1) close the entry and add two charts of
 * the attacker's, `evil` downloading from a foreign host. It avoids everything the old emitter quoted for (`: `,
 * ` #`, a trailing `:`), so it went out as a plain scalar. The real entry's trailing keys land in `decoy`.
 */
const INJECTION = [
  'A chart for tests',
  '  evil:',
  '  - name:',
  '      evil',
  '    version:',
  '      6.6.6',
  '    apiVersion:',
  '      v2',
  '    description:',
  '      forged',
  '    digest:',
  `      ${'e3'.repeat(32)}`,
  '    urls:',
  '    - https://evil.example/evil-6.6.6.tgz',
  '  decoy:',
  '  - name:',
  '      decoy',
  '    version:',
  '      1.0.0',
  '    apiVersion:',
  '      v2',
  '    description:',
  '      padding',
].join(LS);

/** Strings that are something else, or start something else, to a YAML reader, or are rewritten by one. */
const HOSTILE = [
  `line${LS}separator`, 'para\u2029graph', 'tab\there', 'multi\nline\ntext', 'crlf\r\nend', '# not a comment', 'trailing #hash',
  'key: value', 'ends with colon:', '- dash', '? question', ': colon', '[flow]', '{map}', '!tag', '*alias', '&anchor', '|literal',
  '>folded', '%directive', '@at', '`tick', ',comma', 'yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'N', 'true', 'False', '~', 'null', 'NULL',
  '', '0777', '0o17', '0x1F', '1_000', '1:30', '1e3', '.inf', '-.INF', '.NaN', '1.10', '2024-01-01', '2001-12-14t21:59:43.10-05:00',
  '"double"', "'single'", 'back\\slash', '\\L not an escape', ' leading space', 'trailing space ', 'bom\ufeffmid', 'nbsp\u00a0x',
  'rlo\u202egnp.exe', 'zwsp\u200bx', 'emoji 😀', '--- document', '... end', '<<', '=', `${INJECTION}`,
];

const hostileMetadata = (): ChartMetadata => ({
  apiVersion: 'v2',
  name: 'hostile',
  version: '1.0.0',
  appVersion: 'yes',
  description: HOSTILE.join(' | '),
  home: `https://example.com/#${LS}evil: x`,
  icon: 'data:image/png;base64,AAAA\u2029x',
  sources: HOSTILE.slice(0, 12),
  keywords: HOSTILE,
  maintainers: [
    { name: 'on', email: 'a: b@example.com', url: '# x' },
    { name: `line${LS}sep`, url: '~' },
  ],
  annotations: {
    ...Object.fromEntries(HOSTILE.map((h, i) => [h, HOSTILE[(i + 7) % HOSTILE.length]!])),
    // Longer than the 1,024 characters libyaml allows a simple key.
    [`example.com/${'long'.repeat(300)}${LS}evil: x`]: 'long key',
  },
  dependencies: [
    {
      name: 'dep',
      version: '~1.2.3',
      repository: `https://example.com/charts#${LS}x`,
      condition: 'sub.enabled',
      tags: ['yes', '# t', `a${LS}b`],
      enabled: true,
      'import-values': ['on', { child: 'a: b', parent: '1:30' }],
      alias: 'dep-alias',
    },
  ],
  kubeVersion: '>=1.20.0-0',
  condition: 'yes',
  tags: 'off',
  type: 'application',
});

/**
 * Chart.yaml text for metadata: JSON, which is YAML (flow style, double-quoted strings, JSON's escapes are YAML's).
 * Not the yaml library's stringifier: it writes a `<<` key unquoted, which YAML 1.1 reads as a merge key.
 */
const chartYamlOf = (m: ChartMetadata): string => `${JSON.stringify(m, null, 2)}\n`;

const INJECTION_YAML = `apiVersion: v2\nname: innocent\nversion: 1.0.0\ntype: application\ndescription: "${INJECTION.replaceAll(LS, '\\L')}"\n`;

// --- helm ----------------------------------------------------------------------------------------------------

interface Helm {
  major: HelmMajor;
  home: string;
  run(args: string[]): Promise<Run>;
  ok(args: string[]): Promise<string>;
}

async function sandboxHelm(major: HelmMajor, work: string): Promise<Helm> {
  const binary = await helmBinary(major);
  const home = path.join(work, `helm${major}`);
  for (const d of ['config', 'cache', 'data', 'home']) mkdirSync(path.join(home, d), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: path.join(home, 'home'),
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_DATA_HOME: path.join(home, 'data'),
    NO_COLOR: '1',
  };
  const helm: Helm = {
    major,
    home,
    run: (args) => run(binary, args, work, env, 60_000),
    async ok(args) {
      const r = await helm.run(args);
      assert.equal(r.code, 0, `helm ${major} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
  };
  return helm;
}

interface SearchHit {
  name: string;
  version: string;
  app_version: string;
  description: string;
}

/**
 * An index file as helm loads it (`helm repo index --merge` loads it as `helm repo update` does) and writes it back
 * as JSON (`--json`, Go's encoding/json): every field helm kept, byte-exact, with no YAML writer in between.
 */
async function helmReadBack(helm: Helm, indexFile: string): Promise<{ entries: Record<string, Array<Record<string, unknown>>> }> {
  const out = mkdtempSync(path.join(helm.home, 'merge-'));
  await helm.ok(['repo', 'index', out, '--merge', indexFile, '--json']);
  return JSON.parse(readFileSync(path.join(out, 'index.yaml'), 'utf8')) as { entries: Record<string, Array<Record<string, unknown>>> };
}

/** Every entry helm read back equals the stored metadata as helm holds it, and downloads only from this repository. */
function assertReadBack(readBack: { entries: Record<string, Array<Record<string, unknown>>> }, stored: readonly ChartMetadata[], digests: ReadonlyMap<string, string>): void {
  assert.deepEqual(Object.keys(readBack.entries).sort(), stored.map((m) => m.name).sort(), 'helm reads exactly the uploaded charts');
  for (const m of stored) {
    const versions = readBack.entries[m.name]!;
    assert.equal(versions.length, 1, `${m.name}: one version`);
    const { created, digest, urls, ...metadata } = versions[0]!;
    assert.deepEqual(metadata, helmView(m), `${m.name}: helm holds exactly the stored metadata`);
    assert.deepEqual(urls, [`charts/${m.name}-${m.version}.tgz`], `${m.name}: downloads from this repository only`);
    assert.equal(digest, digests.get(m.name));
    assert.ok(!Number.isNaN(new Date(String(created)).getTime()));
  }
}

// --- the server ------------------------------------------------------------------------------------------------

async function api(base: string, token: string, method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/api/v4${url}`, {
    method,
    headers: { 'private-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  assert.ok(res.status < 300, `${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function upload(base: string, projectId: number, user: string, secret: string, chart: Buffer, channel = 'stable'): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append('chart', new Blob([chart]), 'chart.tgz');
  const res = await fetch(`${base}/api/v4/projects/${projectId}/packages/helm/api/${channel}/charts`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` },
    body: form,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

for (const dialect of DIALECTS) {
  describe(`index.yaml read by the real helm 3 and helm 4, hostile Chart.yaml strings uploaded by a Developer (${dialect})`, () => {
    let db: TestDatabase;
    let wharf: WharfProcess;
    let work: string;
    let repoUrl: string;
    let username: string;
    let token: string;
    let projectId: number;
    const stored: ChartMetadata[] = [];
    const digests = new Map<string, string>();
    let innocent: ChartMetadata;
    let innocentDigest: string;
    const sprocket = fixture('charts/sprocket-1.2.0.tgz');

    before(async () => {
      // Fetch both helms first: a failure to get them fails the suite, it never skips it.
      await Promise.all(MAJORS.map((m) => helmBinary(m)));
      db = await createTestDatabase(dialect);
      wharf = await startWharf({ WHARF_DATA_DIR: db.dataDir, ...(db.databaseUrl ? { WHARF_DATABASE_URL: db.databaseUrl } : {}) });
      const root = /WHARF ROOT TOKEN: (\S+)/.exec(wharf.stdout())?.[1];
      assert.ok(root, wharf.stdout());
      work = mkdtempSync(path.join(tmpdir(), 'wharf-helm-inject-'));
      const group = await api(wharf.url, root, 'POST', '/groups', { name: 'Acme', path: 'acme', visibility: 'private' });
      const project = await api(wharf.url, root, 'POST', '/projects', { name: 'charts', namespace_id: group.id, visibility: 'private' });
      username = 'dev';
      const user = await api(wharf.url, root, 'POST', '/users', { username, name: 'Dev', email: 'dev@example.com', password: randomBytes(12).toString('hex') });
      await api(wharf.url, root, 'POST', `/projects/${project.id}/members`, { user_id: user.id, access_level: 30 });
      const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
      token = (await api(wharf.url, root, 'POST', `/users/${user.id}/personal_access_tokens`, { name: 'helm', scopes: ['api'], expires_at: expires })).token;
      projectId = project.id;
      repoUrl = `${wharf.url}/api/v4/projects/${projectId}/packages/helm/stable`;

      const charts: Array<[ChartMetadata, Buffer]> = [];
      const hostile = hostileMetadata();
      charts.push([hostile, buildChart('hostile', '1.0.0', { yaml: chartYamlOf(hostile) })]);
      charts.push([parseChartYaml((await readChartArchive(sprocket)).chartYaml), sprocket]);
      for (const [m, bytes] of charts) {
        // The Chart.yaml written is read back by Wharf's parser as exactly the metadata meant.
        assert.deepEqual(parseChartYaml((await readChartArchive(bytes)).chartYaml), m);
        const r = await upload(wharf.url, projectId, username, token, bytes);
        assert.equal(r.status, 201, `${m.name}: ${JSON.stringify(r.body)}`);
        stored.push(m);
        digests.set(m.name, sha256(bytes));
      }
      assert.equal(hostile.description, HOSTILE.join(' | '));

      // The reported attack alone, in a channel of its own.
      innocent = parseChartYaml(Buffer.from(INJECTION_YAML));
      const bytes = buildChart('innocent', '1.0.0', { yaml: INJECTION_YAML });
      const r = await upload(wharf.url, projectId, username, token, bytes, 'attack');
      assert.equal(r.status, 201, JSON.stringify(r.body));
      innocentDigest = sha256(bytes);
    });

    after(async () => {
      await wharf?.stop();
      await db?.drop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    for (const major of MAJORS) {
      it(`helm ${major}: one upload is one chart; the U+2028 injection forges no entry and no foreign URL`, async () => {
        const helm = await sandboxHelm(major, work);
        await helm.ok(['repo', 'add', 'attack', repoUrl.replace(/stable$/, 'attack'), '--username', username, '--password', token]);
        await helm.ok(['repo', 'update']);
        const hits = JSON.parse(await helm.ok(['search', 'repo', 'attack/', '-l', '-o', 'json'])) as SearchHit[];
        assert.deepEqual(hits.map((h) => `${h.name} ${h.version}`), ['attack/innocent 1.0.0']);
        assert.equal(hits[0]!.description, sanitize(INJECTION));
        const cached = path.join(helm.home, 'cache', 'repository', 'attack-index.yaml');
        assertReadBack(await helmReadBack(helm, cached), [innocent], new Map([['innocent', innocentDigest]]));
        const dest = mkdtempSync(path.join(helm.home, 'pull-'));
        const forged = await helm.run(['pull', 'attack/evil', '--version', '6.6.6', '--destination', dest]);
        assert.notEqual(forged.code, 0, 'helm knows no chart `evil`');
        assert.match(forged.stderr, /evil/);
      });

      it(`helm ${major}: lists exactly the uploaded charts with exactly their stored values, and pulls by digest`, async () => {
        const helm = await sandboxHelm(major, work);
        await helm.ok(['repo', 'add', 'wharf', repoUrl, '--username', username, '--password', token]);
        await helm.ok(['repo', 'update']);

        const hits = JSON.parse(await helm.ok(['search', 'repo', 'wharf/', '-l', '-o', 'json'])) as SearchHit[];
        assert.deepEqual(
          hits.map((h) => `${h.name} ${h.version}`).sort(),
          stored.map((m) => `wharf/${m.name} ${m.version}`).sort(),
          'helm search lists exactly the uploaded charts',
        );
        for (const m of stored) {
          const hit = hits.find((h) => h.name === `wharf/${m.name}`)!;
          assert.equal(hit.app_version, sanitize(m.appVersion ?? ''), `${m.name} app_version`);
          assert.equal(hit.description, sanitize(m.description ?? ''), `${m.name} description`);
        }

        // The index helm cached is Wharf's bytes: read it as YAML 1.1 and compare every field with what was stored.
        const cached = path.join(helm.home, 'cache', 'repository', 'wharf-index.yaml');
        const index = YAML.parse(readFileSync(cached, 'utf8'), { version: '1.1' }) as { entries: Record<string, Array<Record<string, unknown>>> };
        assert.deepEqual(Object.keys(index.entries).sort(), stored.map((m) => m.name).sort());
        for (const m of stored) {
          const { created, digest, urls, ...metadata } = index.entries[m.name]![0]!;
          assert.deepEqual(metadata, m, `${m.name}: the index holds exactly the stored metadata`);
          assert.deepEqual(urls, [`charts/${m.name}-${m.version}.tgz`]);
          assert.equal(digest, digests.get(m.name));
          assert.equal(typeof created, 'string');
        }

        // And as helm itself loaded it: every field, not only the ones `helm search` prints.
        assertReadBack(await helmReadBack(helm, cached), stored, digests);

        // A real chart comes down through helm with the bytes, hence the digest, the index announced.
        const dest = mkdtempSync(path.join(helm.home, 'pull-'));
        await helm.ok(['pull', 'wharf/sprocket', '--version', '1.2.0', '--destination', dest]);
        const pulled = readFileSync(path.join(dest, 'sprocket-1.2.0.tgz'));
        assert.equal(sha256(pulled), index.entries.sprocket![0]!.digest);
        assert.ok(pulled.equals(sprocket));
        assert.deepEqual(readdirSync(dest), ['sprocket-1.2.0.tgz']);
      });
    }

    it('refuses at upload Chart.yaml text holding control characters, lone surrogates or U+FFFE/U+FFFF, naming field and character', async () => {
      const refusals: Array<[string, string]> = [
        ['description: "NEL\\N"', 'description contains U+0085'],
        ['description: "bell\\a"', 'description contains U+0007'],
        ['home: "del\\x7F"', 'home contains U+007F'],
        ['keywords: ["c1\\x9B"]', 'keywords[0] contains U+009B'],
        ['annotations: {"k\\e": v}', 'a key of annotations contains U+001B'],
        ['annotations: {k: "lone \\uD800"}', 'annotations.k contains U+D800'],
        ['maintainers: [{name: "\\0"}]', 'maintainers[0].name contains U+0000'],
        ['appVersion: "\\uFFFF"', 'appVersion contains U+FFFF'],
      ];
      for (const [line, message] of refusals) {
        const r = await upload(wharf.url, projectId, username, token, buildChart('refused', '1.0.0', { yaml: `apiVersion: v2\nname: refused\nversion: 1.0.0\n${line}\n` }));
        assert.equal(r.status, 400, `${line}: ${JSON.stringify(r.body)}`);
        assert.ok(String(r.body.error).includes(message), `${line}: ${r.body.error}`);
      }
      // Nothing of them reached the channel.
      const index = await fetch(`${repoUrl}/index.yaml`, { headers: { authorization: `Basic ${Buffer.from(`${username}:${token}`).toString('base64')}` } });
      assert.equal(index.status, 200);
      assert.doesNotMatch(await index.text(), /refused/);
    });
  });
}

describe('the index.yaml emitter read by the real helm, for strings upload refuses and keys YAML cannot take simply', () => {
  let work: string;
  before(async () => {
    await Promise.all(MAJORS.map((m) => helmBinary(m)));
    work = mkdtempSync(path.join(tmpdir(), 'wharf-helm-emit-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  // Raw C0/C1 controls and DEL fail go-yaml's reader for the whole document; NEL is a YAML 1.1 line break; a lone
  // surrogate has no UTF-8 form and go-yaml refuses `\uD800`; a key over 1,024 characters is no simple key.
  const REFUSED = ['nul\u0000x', 'bell\u0007x', 'esc\u001bx', 'del\u007fx', 'c1\u0090x', 'csi\u009bx', 'nel\u0085x', 'lone\ud800x', 'pair\ud83d\ude00x', 'nonchar\uffffx', 'bom\ufeffx'];
  const LONG_KEY = `k${'ey'.repeat(700)}${LS}evil: x`;

  const charts = (): ChartMetadata[] => [
    {
      apiVersion: 'v2',
      name: 'emitted',
      version: '1.0.0',
      description: REFUSED.join(' '),
      appVersion: REFUSED[4]!,
      keywords: REFUSED,
      maintainers: [{ name: REFUSED[6]!, email: REFUSED[0]!, url: REFUSED[3]! }],
      annotations: { ...Object.fromEntries(REFUSED.map((r) => [r, r])), [LONG_KEY]: 'long', 'line\nbreak': 'key' },
    },
    { apiVersion: 'v2', name: 'neighbour', version: '2.0.0', description: 'still here' },
  ];

  for (const major of MAJORS) {
    it(`helm ${major} loads the index with every entry and nothing else, and holds the values escaped`, async () => {
      const helm = await sandboxHelm(major, work);
      const stored = charts();
      const text = renderIndexYaml({
        charts: stored.map((metadata, i) => ({ metadata, created: '2026-01-01T00:00:00.000Z', sha256: `${i}`.repeat(64), fileId: i + 1 })),
        generated: '2026-01-01T00:00:00.000Z',
        contextPath: '/api/v4/projects/1/packages/helm',
      });
      // The cached index of a repository helm never contacts: `helm search` reads only the cache.
      const repoConfig = path.join(helm.home, 'config', 'repositories.yaml');
      writeFileSync(repoConfig, 'apiVersion: ""\ngenerated: "0001-01-01T00:00:00Z"\nrepositories:\n- name: local\n  url: http://127.0.0.1:9/\n');
      mkdirSync(path.join(helm.home, 'cache', 'repository'), { recursive: true });
      const cached = path.join(helm.home, 'cache', 'repository', 'local-index.yaml');
      writeFileSync(cached, text);

      const hits = JSON.parse(await helm.ok(['search', 'repo', 'local/', '-l', '-o', 'json'])) as SearchHit[];
      assert.deepEqual(hits.map((h) => h.name).sort(), ['local/emitted', 'local/neighbour']);
      const emitted = hits.find((h) => h.name === 'local/emitted')!;
      // U+FFFD stands where the lone surrogate was, the only character the emitter has to replace.
      assert.equal(emitted.description, sanitize(stored[0]!.description!.replace('\ud800', '\ufffd')));
      assert.equal(emitted.app_version, 'c1x');

      // Every field as helm holds it, annotations (which helm keeps unsanitized) byte for byte.
      const expected = JSON.parse(JSON.stringify(stored).replaceAll('\\ud800', '\\ufffd')) as ChartMetadata[];
      assertReadBack(await helmReadBack(helm, cached), expected, new Map(expected.map((m, i) => [m.name, `${i}`.repeat(64)])));
      assert.equal(expected[0]!.annotations![LONG_KEY], 'long');

      // The yaml library reads the same document back to the same strings.
      const read = YAML.parse(text, { version: '1.1' }) as { entries: Record<string, Array<Record<string, unknown>>> };
      for (const m of expected) assert.deepEqual(read.entries[m.name]![0]!.annotations, m.annotations);
      assert.deepEqual(read.entries.emitted![0]!.keywords, expected[0]!.keywords);
    });
  }
});
