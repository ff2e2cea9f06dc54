/**
 * The index.yaml scalar writer against hostile strings. The `yaml` library is the reader here, in YAML 1.1 and 1.2
 * mode; it does not treat U+0085/U+2028/U+2029 as line breaks nor refuse raw control characters as go-yaml does, so
 * the properties that make go-yaml agree are checked on the text itself: one line per scalar, only characters
 * libyaml reads literally, only escapes libyaml knows. The real helm reads the same strings in
 * test/e2e/helm-index-injection.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import type { ChartMetadata } from '../../src/domain/helm/chart-yaml.js';
import { renderIndexYaml } from '../../src/domain/helm/index-yaml.js';
import { emitYamlDocument, keyLine, scalar } from '../../src/domain/helm/yaml-emit.js';
import { loadIndexStrict } from '../helpers/helm.js';

/** Characters go-yaml either refuses in a stream or takes for a line break (other than the `\n` ending a line). */
const NOT_LITERAL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|\p{Cs}/u;
/** The escapes go-yaml v2's scanner knows, each whole. */
const ESCAPE = /\\(?:[0abtnvfre "\\/N_LP]|x[0-9A-F]{2}|u[0-9A-F]{4}|U[0-9A-F]{8})/g;

/** A lone surrogate cannot be written (no UTF-8 form, and go-yaml refuses `\uD800`); it becomes U+FFFD. */
const wellFormed = (s: string): string => s.replace(/\p{Cs}/gu, '\ufffd');

const BASE = [
  '', ' ', '  ', 'plain', 'yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'N', 'true', 'FALSE', '~', 'null', 'Null', '<<', '=',
  '0777', '0o17', '0x1F', '0b101', '1_000', '1:30', '-1:30:00', '1e3', '1E-3', '.5', '.inf', '-.Inf', '.NaN', '1.10', '+1', '-0',
  '2024-01-01', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10 -5', '- dash', '-', '? q', '?', ': c', ':', ',', '[a]', ']',
  '{b}', '}', '#', '# c', 'a #b', 'a# b', 'a: b', 'a:', 'a:b', '!tag', '!!str x', '*alias', '&anchor', '|', '|-', '>', '>+', '%YAML 1.1',
  '@', '`', "'", "''", '"', '""', '\\', '\\n', '\\L', '\\x41', '---', '--- x', '...', '... x', 'a\nb', '\n', '\r\n', 'a\rb', '\t',
  'a\tb', ' a', 'a ', '\u00a0', 'nbsp\u00a0', '\u0085', 'a\u0085- b: c', '\u2028', `x\u2028  evil:\u2028  - name:\u2028      e`,
  '\u2029', '\ufeff', 'a\ufeffb', '\ufffe', '\uffff', '\ufffd', '\ud800', 'a\udc00b', '\udbff\udfff', '😀', 'a😀b', '\u202e',
  '\u200b', '\u0000', '\u0007', '\u001b[31m', '\u007f', '\u0080', '\u009b', '\u00ff', 'ü', '日本語', 'ʼ', '${{ x }}', '{{ .Values }}',
];

/** Every code point up to U+02FF and a few ranges around the special ones, alone and between letters. */
function* codePoints(): Generator<string> {
  const ranges: Array<[number, number]> = [[0, 0x2ff], [0x2000, 0x206f], [0xd7f0, 0xe010], [0xfeff, 0xfeff], [0xfff0, 0xffff]];
  for (const [from, to] of ranges) for (let c = from; c <= to; c++) yield String.fromCharCode(c);
}

/** A seeded mix of the pieces above, so a failure can be replayed. */
function* mixes(count: number): Generator<string> {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pieces = [...BASE, ...codePoints()].filter((p) => p.length <= 40);
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = 1 + Math.floor(rnd() * 6);
    for (let j = 0; j < n; j++) s += pieces[Math.floor(rnd() * pieces.length)]!;
    yield s;
  }
}

const hostileStrings = (): string[] => [...BASE, ...[...codePoints()].flatMap((c) => [c, `a${c}b`, `${c} x`]), ...mixes(3000)];

describe('index.yaml scalars', () => {
  it('read back as the same string, in YAML 1.1 and 1.2, for thousands of hostile strings', () => {
    for (const s of hostileStrings()) {
      const text = scalar(s);
      for (const version of ['1.1', '1.2'] as const) {
        assert.equal(YAML.parse(`k: ${text}\n`, { version }).k, wellFormed(s), `${JSON.stringify(s)} as ${text} (${version})`);
      }
    }
  });

  it('are one double-quoted line of characters libyaml reads literally, with only escapes libyaml knows', () => {
    for (const s of hostileStrings()) {
      const text = scalar(s);
      assert.ok(text.startsWith('"') && text.endsWith('"') && text.length >= 2, text);
      assert.doesNotMatch(text, /\n/, JSON.stringify(s));
      assert.doesNotMatch(text, NOT_LITERAL, JSON.stringify(s));
      const body = text.slice(1, -1);
      // Take the known escapes out; what is left has no backslash and no bare double quote.
      const rest = body.replace(ESCAPE, '');
      assert.doesNotMatch(rest, /["\\]/, `${JSON.stringify(s)} as ${text}`);
      // go-yaml refuses a surrogate in a \u escape (it wants a code point), so none is ever written.
      assert.doesNotMatch(text, /\\u[dD][89a-fA-F]/, text);
    }
  });

  it('leave printable text readable: ASCII and non-ASCII letters as they are, only the dangerous characters escaped', () => {
    assert.equal(scalar('A Helm chart for Kubernetes'), '"A Helm chart for Kubernetes"');
    assert.equal(scalar('日本語 😀 ü'), '"日本語 😀 ü"');
    assert.equal(scalar(`a\u2028b\u2029c\u0085d`), '"a\\Lb\\Pc\\Nd"');
    assert.equal(scalar('say "hi"\\'), '"say \\"hi\\"\\\\"');
    assert.equal(scalar('\u0000\u0007\b\t\n\v\f\r\u001b\u0001\u007f\u009b'), '"\\0\\a\\b\\t\\n\\v\\f\\r\\e\\x01\\x7F\\x9B"');
    assert.equal(scalar('\ufeff\ufffe\uffff'), '"\\uFEFF\\uFFFE\\uFFFF"');
    assert.equal(scalar('lone \ud800'), '"lone \ufffd"');
  });
});

describe('index.yaml keys', () => {
  it('quote every key but the schema\'s own, and read back as the same keys', () => {
    const keys = hostileStrings().filter((s) => !/\p{Cs}/u.test(s)).slice(0, 1500);
    const annotations = Object.fromEntries(keys.map((k, i) => [k, `v${i}`]));
    const doc = YAML.parse(emitYamlDocument({ annotations }), { version: '1.1' }) as { annotations: Record<string, string> };
    assert.deepEqual(doc.annotations, annotations);
    assert.equal(keyLine('description', '  ', '"x"'), '  description: "x"\n');
    assert.equal(keyLine('yes', '  ', '"x"'), '  "yes": "x"\n');
    assert.equal(keyLine('<<', '', '"x"'), '"<<": "x"\n');
  });

  it('write a key longer than libyaml\'s 1,024-character simple-key limit as an explicit key', () => {
    const long = `k${'ey'.repeat(600)}\u2028evil: x`;
    const line = keyLine(long, '    ', '"v"');
    assert.ok(line.startsWith('    ? "'), line.slice(0, 20));
    assert.ok(line.endsWith('\n    : "v"\n'));
    const text = emitYamlDocument({ annotations: { [long]: 'v', short: 'w' }, list: { [long]: ['a'] } });
    const doc = YAML.parse(text, { version: '1.1' }) as Record<string, Record<string, unknown>>;
    assert.deepEqual(doc.annotations, { [long]: 'v', short: 'w' });
    assert.deepEqual(doc.list, { [long]: ['a'] });
  });
});

describe('index.yaml with hostile Chart.yaml strings in every field', () => {
  it('holds exactly the stored metadata, and every string in it is a double-quoted scalar', () => {
    const strings = hostileStrings().filter((s) => !/\p{Cs}/u.test(s));
    const pick = (i: number): string => strings[i % strings.length]!;
    const metadata: ChartMetadata = {
      apiVersion: 'v2',
      name: 'yes',
      version: '1.0.0',
      appVersion: pick(3),
      description: strings.slice(0, 200).join('|'),
      home: pick(5),
      icon: pick(6),
      sources: strings.slice(100, 140),
      keywords: strings.slice(0, 300),
      maintainers: [{ name: pick(7), email: pick(8), url: pick(9) }, { name: pick(10) }],
      annotations: Object.fromEntries(strings.slice(0, 300).map((s, i) => [s, pick(i + 11)])),
      dependencies: [{ name: pick(12), version: pick(13), repository: pick(14), condition: pick(15), tags: strings.slice(20, 30), enabled: false, 'import-values': [pick(16), { child: pick(17), parent: pick(18) }], alias: 'a' }],
      kubeVersion: pick(19),
      condition: pick(20),
      tags: pick(21),
      deprecated: true,
      type: 'library',
    };
    const text = renderIndexYaml({ charts: [{ metadata, created: '2026-01-01T00:00:00.000Z', sha256: '1e3'.padEnd(64, '0'), fileId: 1 }], generated: '2026-01-01T00:00:00Z', contextPath: '/c' });
    const index = loadIndexStrict(text);
    assert.deepEqual(Object.keys(index.entries), ['yes']);
    const { created, digest, urls, ...read } = index.entries.yes![0]!;
    assert.deepEqual(read, metadata);
    assert.equal(digest, '1e3'.padEnd(64, '0'));
    assert.deepEqual(urls, ['charts/yes-1.0.0.tgz']);
    assert.equal(created, '2026-01-01T00:00:00.000000000Z');
    // Lines are exactly the document's structure: no scalar spans or starts one.
    assert.doesNotMatch(text.replaceAll('\n', ''), NOT_LITERAL);
    YAML.visit(YAML.parseDocument(text, { version: '1.1' }), {
      Scalar(key, node) {
        if (typeof node.value !== 'string') return;
        // Plain: the schema's keys and the document's own `apiVersion: v1`; every other string is data, quoted.
        if (key === 'key' && node.type === 'PLAIN') assert.match(node.value, /^[a-zA-Z-]+$/);
        else if (node.value !== 'v1') assert.equal(node.type, 'QUOTE_DOUBLE', JSON.stringify(node.value));
      },
    });
  });
});
