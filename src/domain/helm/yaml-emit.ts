/**
 * A small block-style YAML writer for the JSON-like trees of `index.yaml`, written for the reader that matters:
 * Helm's (sigs.k8s.io/yaml over go-yaml v2, a port of libyaml; YAML 1.1 rules). Layout as GitLab's Psych lays it
 * out (`---` first, two-space indents, sequences under a key at the key's own indent); what differs is quoting:
 *
 * - **Every string value and every key not written by Wharf itself is double-quoted**, so no resolver (YAML 1.1's
 *   `yes`/`on`/`1_000`/`0777`/`1:30`, YAML 1.2's, a timestamp) ever reads a string as something else, and no
 *   indicator (`#`, `: `, leading `-?[]{}!*&|>%@`) ever means anything inside one.
 * - **Inside the quotes, only characters every reader takes literally are written as they are**: printable ASCII
 *   except `"` and `\`, and non-ASCII characters that libyaml neither refuses nor treats as a line break. Everything
 *   else is escaped: C0 controls, DEL, C1 controls (its reader refuses them in the stream, failing the whole
 *   index), U+0085, U+2028 and U+2029 (line breaks to YAML 1.1: raw, they would end a plain scalar and start a new
 *   line of the document, or be folded into a space inside quotes), and U+FEFF, U+FFFE and U+FFFF. A document line
 *   therefore ends only where this writer puts a `\n`.
 * - **A lone UTF-16 surrogate becomes U+FFFD.** It has no UTF-8 form, and go-yaml refuses a `\uD800` escape as
 *   invalid, which would fail the whole index for one string; Chart.yaml parsing refuses such strings anyway.
 * - **A key longer than libyaml's 1,024-character limit for simple keys** is written as an explicit `? key` / `: value`
 *   pair, which has no such limit (a long simple key is a parse error that would fail the whole index).
 *
 * Why not the `yaml` package's stringifier, even in its double-quoted mode: it escapes what `JSON.stringify`
 * escapes and no more, so it writes U+2028, U+2029, U+0085, DEL and C1 controls raw and a lone surrogate as
 * `\ud800`, every one of which go-yaml reads differently or refuses. The package is the tests' reader instead.
 */

export type YamlValue = string | number | boolean | null | readonly YamlValue[] | { readonly [key: string]: YamlValue };

/**
 * Keys written without quotes: the ones Wharf's own schema puts in `index.yaml` (Helm's `IndexFile`, `ChartVersion`,
 * `Metadata`, `Maintainer` and `Dependency` field names). Each is a plain lower-camel word no YAML reads as
 * anything but a string. Any other key, an annotation's or a chart's name, is data and is quoted.
 */
const SCHEMA_KEYS: ReadonlySet<string> = new Set([
  'apiVersion', 'entries', 'generated', 'serverInfo', 'contextPath',
  'name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'condition', 'tags',
  'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type', 'created', 'digest', 'urls',
  'email', 'url', 'repository', 'enabled', 'import-values', 'alias', 'child', 'parent',
]);

/** Whole strings that need no escaping: printable ASCII without `"` and `\`. The common case, tested in one pass. */
const SAFE_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * One character that must be escaped: anything outside printable ASCII (minus `"` `\`) and the non-ASCII ranges
 * libyaml reads literally (U+00A0–U+D7FF without U+2028/U+2029, U+E000–U+FFFD without U+FEFF, and U+10000 on as
 * whole surrogate pairs). With the `u` flag a lone surrogate is one unpaired code unit and matches here.
 */
const UNSAFE = /[^\x20\x21\x23-\x5b\x5d-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]/gu;

/** YAML's named escapes (all of which go-yaml knows); the rest are `\xXX` or `\uXXXX`. */
const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\0': '\\0', '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r',
  '\x1b': '\\e', '"': '\\"', '\\': '\\\\', '\u0085': '\\N', '\u2028': '\\L', '\u2029': '\\P',
};

function escapeChar(ch: string): string {
  const named = NAMED_ESCAPES[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return '\uFFFD';
  const hex = code.toString(16).toUpperCase();
  return code < 0x100 ? `\\x${hex.padStart(2, '0')}` : `\\u${hex.padStart(4, '0')}`;
}

/** A string as a double-quoted YAML scalar on one line, read back identically by go-yaml v2 and by `yaml` (1.1 or 1.2). */
export function scalar(s: string): string {
  if (SAFE_ASCII.test(s)) return `"${s}"`;
  return `"${s.replace(UNSAFE, escapeChar)}"`;
}

/** Longest key written as a simple `key: value`; libyaml gives up on a simple key after 1,024 characters. */
const MAX_SIMPLE_KEY = 1000;

const isMapping = (v: YamlValue): v is { readonly [key: string]: YamlValue } => typeof v === 'object' && v !== null && !Array.isArray(v);

function inline(v: YamlValue): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'string') return scalar(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('index.yaml cannot hold a non-finite number');
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined;
  return Object.keys(v as object).length === 0 ? '{}' : undefined;
}

function emit(v: YamlValue, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v as readonly YamlValue[]) {
      const simple = inline(item);
      if (simple !== undefined) {
        out.push(`${indent}- ${simple}\n`);
      } else if (isMapping(item)) {
        // `- key: value` with the mapping's other keys aligned under the first one.
        const lines: string[] = [];
        emit(item, `${indent}  `, lines);
        out.push(`${indent}- ${lines.join('').slice(indent.length + 2)}`);
      } else {
        out.push(`${indent}-\n`);
        emit(item, `${indent}  `, out);
      }
    }
    return;
  }
  if (!isMapping(v)) throw new Error('only mappings and sequences are emitted as blocks');
  for (const [key, value] of Object.entries(v)) {
    const simple = inline(value);
    if (simple !== undefined) out.push(keyLine(key, indent, simple));
    else {
      out.push(keyLine(key, indent));
      // Psych puts a sequence's dashes at its key's indentation; a nested mapping goes two spaces in.
      emit(value, Array.isArray(value) ? indent : `${indent}  `, out);
    }
  }
}

/**
 * `key: value` (or `key:` before a block value), the key quoted unless it is one of the schema's own. A key too long
 * to be a simple key is written explicitly, `? "…"` and then `: value` on the next line.
 */
export function keyLine(key: string, indent: string, value?: string): string {
  const k = SCHEMA_KEYS.has(key) ? key : scalar(key);
  const tail = value === undefined ? '\n' : ` ${value}\n`;
  return k.length > MAX_SIMPLE_KEY ? `${indent}? ${k}\n${indent}:${tail}` : `${indent}${k}:${tail}`;
}

/** One item of a block sequence at `indent` (`- key: value` …), exactly as it appears inside a document. */
export function emitSequenceItem(item: YamlValue, indent: string): string {
  const out: string[] = [];
  emit([item], indent, out);
  return out.join('');
}

/** A whole document: `---` then the top-level mapping. */
export function emitYamlDocument(root: { readonly [key: string]: YamlValue }): string {
  const out = ['---\n'];
  emit(root, '', out);
  return out.join('');
}
