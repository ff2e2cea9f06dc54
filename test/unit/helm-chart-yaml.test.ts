/** Chart.yaml parsing and GitLab's validation (docs/design/gitlab-compatibility.md#helm-upload), with the messages users see. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readChartArchive } from '../../src/archive/helm-chart.js';
import { AppError } from '../../src/domain/errors.js';
import { parseChartYaml } from '../../src/domain/helm/chart-yaml.js';
import { fixture } from '../helpers/helm.js';

const parse = (text: string | Buffer) => parseChartYaml(typeof text === 'string' ? Buffer.from(text) : text);

function refused(text: string | Buffer, pattern: RegExp): void {
  assert.throws(
    () => parse(text),
    (err: unknown) => {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.status, 400);
      assert.match(String(err.body.error), pattern);
      return true;
    },
  );
}

const BASE = 'apiVersion: v2\nname: demo\nversion: 1.0.0\n';

describe('Chart.yaml', () => {
  it('reads every fixture helm package made, keeping only its keys in file order', async () => {
    const frob = parse((await readChartArchive(fixture('charts/frobnitz-1.2.3.tgz'))).chartYaml);
    assert.deepEqual(Object.keys(frob), ['apiVersion', 'name', 'description', 'version', 'keywords', 'maintainers', 'sources', 'home', 'icon', 'annotations', 'dependencies']);
    assert.equal(frob.version, '1.2.3');
    assert.deepEqual(frob.maintainers?.[0], { name: 'The Helm Team', email: 'helm@example.com' });
    assert.deepEqual(frob.annotations, { extrakey: 'extravalue', anotherkey: 'anothervalue' });
    const deps = parse((await readChartArchive(fixture('charts/chart-with-compressed-dependencies-2.1.8.tgz'))).chartYaml);
    assert.equal(deps.appVersion, '4.9.8');
    const req = parse((await readChartArchive(fixture('charts/reqtest-0.1.0.tgz'))).chartYaml);
    assert.equal(req.dependencies?.[2]?.version, '>=0.1.0');
  });

  it('strips a UTF-8 byte-order mark (frobnitz_with_bom)', async () => {
    const m = parse((await readChartArchive(fixture('charts/frobnitz_with_bom.tgz'))).chartYaml);
    assert.equal(m.apiVersion, 'v1');
    assert.equal(m.name, 'frobnitz');
  });

  it('requires apiVersion, as GitLab does (Helm 2 era charts without it are refused)', async () => {
    for (const file of ['charts/compressedchart-with-hyphens-0.1.0.tgz', 'charts/pre-release-chart-0.1.0-alpha.tgz']) {
      refused((await readChartArchive(fixture(file))).chartYaml, /^Chart.yaml is invalid: apiVersion is missing$/);
    }
    refused('name: demo\nversion: 1.0.0\n', /apiVersion is missing/);
    refused('apiVersion: v2\nversion: 1.0.0\n', /name is missing/);
    refused('apiVersion: v2\nname: demo\n', /version is missing/);
    refused('apiVersion: ""\nname: demo\nversion: 1.0.0\n', /apiVersion is missing/);
  });

  it('accepts apiVersion v3 (Helm 4 experimental charts)', async () => {
    assert.equal(parse((await readChartArchive(fixture('charts/frobnitz-apiv3-1.2.3.tgz'))).chartYaml).apiVersion, 'v3');
  });

  it('refuses keys Helm does not know, at any depth (Helm >= 3.4 would reject the whole index)', () => {
    refused(`${BASE}foo: bar\n`, /unknown key foo/);
    refused(`${BASE}maintainers:\n- name: a\n  phone: "123"\n`, /unknown key maintainers\[0\]\.phone/);
    refused(`${BASE}dependencies:\n- name: a\n  registry: x\n`, /unknown key dependencies\[0\]\.registry/);
    refused(`${BASE}digest: abc\n`, /unknown key digest/);
    refused(`${BASE}urls: [x]\n`, /unknown key urls/);
  });

  it('refuses wrong types with the field named, YAML 1.1 style (as Helm and GitLab read it)', () => {
    refused(`${BASE}appVersion: 1.10\n`, /appVersion must be a string \(quote it\), not the number 1.1/);
    refused('apiVersion: v2\nname: demo\nversion: 1.0\n', /version must be a string/);
    refused(`${BASE}description: yes\n`, /description must be a string.*boolean true/);
    refused(`${BASE}home: on\n`, /home must be a string/);
    refused(`${BASE}deprecated: "true"\n`, /deprecated must be true or false/);
    refused(`${BASE}keywords: web\n`, /keywords must be a list/);
    refused(`${BASE}keywords: [web, 1]\n`, /keywords\[1\] must be a string/);
    refused(`${BASE}maintainers:\n- ops\n`, /maintainers\[0\] must be a mapping/);
    refused(`${BASE}annotations:\n  a: 1\n`, /annotations.a must be a string/);
    refused(`${BASE}type: service\n`, /type must be one of application, library/);
    refused(`${BASE}icon: !!binary aGVsbG8=\n`, /icon must be a string/);
    refused(`${BASE}dependencies:\n- name: a\n  enabled: maybe\n`, /dependencies\[0\]\.enabled must be true or false/);
    refused(`${BASE}dependencies:\n- name: a\n  alias: "bad alias"\n`, /alias must contain only/);
    refused('- just\n- a list\n', /must be a mapping/);
    refused('', /must be a mapping/);
  });

  it('accepts the optional shapes Helm allows', () => {
    const m = parse(
      `${BASE}deprecated: false\nkubeVersion: ">=1.22"\ntype: library\nannotations:\n  "helm.sh/images": x\n` +
        'dependencies:\n- name: a\n  version: 1.x\n  tags: [t]\n  enabled: true\n  import-values: [x, {child: a, parent: b}]\n  alias: a-1\n' +
        'icon: ~\n',
    );
    assert.equal(m.type, 'library');
    assert.deepEqual(m.dependencies?.[0]?.['import-values'], ['x', { child: 'a', parent: 'b' }]);
    // An explicit null is treated as absent, as Go's YAML leaves a zero value.
    assert.equal('icon' in m, false);
  });

  it('refuses YAML aliases outright (no alias bomb can expand), as GitLab\'s safe_load does', () => {
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
      .concat(Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`))
      .join('\n');
    refused(`${BASE}${bomb}\n`, /^Error while parsing Chart.yaml: YAML aliases are not allowed$/);
    refused(`apiVersion: v2\nname: &n demo\nversion: 1.0.0\ndescription: *n\n`, /YAML aliases are not allowed/);
  });

  it('refuses malformed YAML, duplicate keys, several documents and invalid UTF-8', () => {
    refused('apiVersion: v2\nname: [unclosed\n', /^Error while parsing Chart.yaml: /);
    refused(`${BASE}name: again\n`, /Error while parsing Chart.yaml: .*unique/);
    refused(`${BASE}---\n${BASE}`, /Error while parsing Chart.yaml/);
    refused(Buffer.concat([Buffer.from(BASE), Buffer.from('description: '), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('\n')]), /not valid UTF-8/);
    refused(`${BASE}icon: !custom x\n`, /Error while parsing Chart.yaml/);
    refused(`${'['.repeat(20000)}${']'.repeat(20000)}`, /Error while parsing Chart.yaml|must be a mapping/);
  });

  it('applies GitLab\'s name and version rules with GitLab\'s messages', () => {
    for (const name of ['my-chart', 'a', 'a.b_c-d', 'UPPER1', '1']) assert.equal(parse(`apiVersion: v2\nname: "${name}"\nversion: 1.0.0\n`).name, name);
    for (const name of ['-lead', 'trail-', 'dou--ble', 'sp ace', 'sl/ash', '..', '.', 'é']) {
      refused(`apiVersion: v2\nname: "${name}"\nversion: 1.0.0\n`, /^Validation failed: Name is invalid$/);
    }
    for (const version of ['1.0.0', 'v1.0.0', '1.0.0-alpha.1', '1.0.0+build.5', '0.0.0-0']) {
      assert.equal(parse(`apiVersion: v2\nname: demo\nversion: "${version}"\n`).version, version);
    }
    for (const version of ['1', '1.2', '01.0.0', '1.0.0-', 'V1.0.0', 'vv1.0.0', '1.0.0.0', '../1.0.0', 'latest']) {
      refused(`apiVersion: v2\nname: demo\nversion: "${version}"\n`, /^Validation failed: Version is invalid$/);
    }
  });

  it('refuses structure no real Chart.yaml has before parsing it (the parser would hold the event loop for seconds)', () => {
    const started = Date.now();
    refused(`${BASE}keywords:\n${'- kw\n'.repeat(200_000)}`, /more than 2000 keys and list items/);
    refused(`${BASE}keywords: [${'a,'.repeat(100_000)}a]\n`, /more than 2000 keys and list items/);
    refused(`${BASE}annotations: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`, /nested more than 32 deep/);
    assert.ok(Date.now() - started < 2000, `refusals took ${Date.now() - started} ms`);
    // Prose with commas, brackets and quotes inside quoted scalars is not structure.
    assert.equal(parse(`${BASE}description: "${'a, [b], {c}, '.repeat(5000)}"\n`).name, 'demo');
    assert.equal(parse(`${BASE}description: it's a "sprocket\n`).description, `it's a "sprocket`);
  });

  it('refuses a Chart.yaml over 1 MB', () => refused(`${BASE}description: "${'x'.repeat(1024 * 1024)}"\n`, /^Chart.yaml too big$/));

  it('refuses control characters, lone surrogates and U+FFFE/U+FFFF in any string, keys included, naming field and character', () => {
    const cases: Array<[string, string]> = [
      ['description: "a\\x01b"', 'description contains U+0001'],
      ['description: "NEL\\N"', 'description contains U+0085'],
      ['home: "\\e[31m"', 'home contains U+001B'],
      ['icon: "del\\x7F"', 'icon contains U+007F'],
      ['appVersion: "\\x9B"', 'appVersion contains U+009B'],
      ['sources: [ok, "\\0"]', 'sources[1] contains U+0000'],
      ['keywords: ["\\uFFFE"]', 'keywords[0] contains U+FFFE'],
      ['maintainers: [{name: a, email: "\\v"}]', 'maintainers[0].email contains U+000B'],
      ['annotations: {"k\\x1F": v}', 'a key of annotations contains U+001F'],
      ['annotations: {k: "\\uDFFF"}', 'annotations.k contains U+DFFF'],
      ['dependencies: [{name: a, repository: "\\f"}]', 'dependencies[0].repository contains U+000C'],
      ['dependencies: [{name: a, import-values: ["\\a", {child: "\\b"}]}]', 'dependencies[0].import-values[0] contains U+0007'],
      ['dependencies: [{name: a, import-values: [{child: "\\b"}]}]', 'dependencies[0].import-values[0].child contains U+0008'],
      ['kubeVersion: "\\uFFFF"', 'kubeVersion contains U+FFFF'],
    ];
    for (const [line, message] of cases) refused(`${BASE}${line}\n`, new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('keeps tab, line feed, carriage return and every printable character, line and paragraph separators included', () => {
    const m = parse(`${BASE}description: "tab\\tline\\ncr\\r\\L\\P\\u00A0\\uFEFF😀"\nannotations:\n  "a\\nb": "c\\u2028d"\n`);
    assert.equal(m.description, 'tab\tline\ncr\r\u2028\u2029\u00a0\ufeff😀');
    assert.deepEqual(m.annotations, { 'a\nb': 'c\u2028d' });
  });
});
