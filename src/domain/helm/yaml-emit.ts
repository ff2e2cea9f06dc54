/**
 * A small block-style YAML writer for the JSON-like trees of `index.yaml`, laid out the way GitLab's Ruby
 * (`Psych#to_yaml`) lays them out: `---` first, two-space indents, sequences under a key at the key's own indent,
 * single quotes only where a plain scalar would be read as something else.
 *
 * Why not the `yaml` package's stringifier: it follows YAML 1.2, where `yes`, `on` or `1_000` are plain strings,
 * but Helm reads `index.yaml` with go-yaml v2 (YAML 1.1), which turns them into booleans and numbers and then
 * refuses the entry or silently changes it (clients.md C.5). Here every string that YAML 1.1 *or* 1.2 could read as
 * another type is quoted.
 */

export type YamlValue = string | number | boolean | null | readonly YamlValue[] | { readonly [key: string]: YamlValue };

/** A string wrapped this way is always written double-quoted (GitLab's `appVersion: "1.16.0"`). */
export class DoubleQuoted {
  constructor(readonly value: string) {}
}

export type YamlNode = YamlValue | DoubleQuoted | readonly YamlNode[] | { readonly [key: string]: YamlNode };

/** YAML 1.1 and 1.2 nulls and booleans, in every spelling either version knows. */
const RESERVED_WORDS = new Set(
  [
    '~', 'null', 'Null', 'NULL',
    'y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO',
    'true', 'True', 'TRUE', 'false', 'False', 'FALSE',
    'on', 'On', 'ON', 'off', 'Off', 'OFF',
    '<<', '=',
  ],
);

/**
 * Scalars that some YAML resolver reads as a number or a date: YAML 1.1 ints (with `_`, `0b`, `0x`, octal `0…`,
 * sexagesimal `1:30`), YAML 1.1/1.2 floats (`1.10`, `1e3`, `.5`, `.inf`, `.NaN`), and timestamps.
 */
const NUMBER_OR_DATE = [
  /^[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*)$/,
  /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/,
  /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?$/,
  /^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
  /^[-+]?\.(?:inf|Inf|INF)$/,
  /^\.(?:nan|NaN|NAN)$/,
  /^\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?$/,
];

/** First characters that start some other YAML construct when unquoted. */
const INDICATOR_START = /^[-?:,[\]{}#&*!|>'"%@`\s]/;

/** Printable characters only; control characters, line breaks, DEL, C1 controls and lone surrogates are not. */
const NON_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufeff\ufffe\uffff]/;

const needsQuotes = (s: string): boolean =>
  s === '' ||
  RESERVED_WORDS.has(s) ||
  NUMBER_OR_DATE.some((re) => re.test(s)) ||
  INDICATOR_START.test(s) ||
  /\s$/.test(s) ||
  s.includes(': ') ||
  s.includes(' #') ||
  s.endsWith(':');

/** A string scalar: plain when safe, single-quoted when only its look is ambiguous, double-quoted when it must escape. */
export function scalar(s: string): string {
  if (NON_PRINTABLE.test(s)) return JSON.stringify(s);
  if (!needsQuotes(s)) return s;
  return `'${s.replace(/'/g, "''")}'`;
}

const isMapping = (v: YamlNode): v is { readonly [key: string]: YamlNode } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof DoubleQuoted);

function inline(v: YamlNode): string | undefined {
  if (v instanceof DoubleQuoted) return JSON.stringify(v.value);
  if (v === null) return '~';
  if (typeof v === 'string') return scalar(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('index.yaml cannot hold a non-finite number');
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined;
  return Object.keys(v as object).length === 0 ? '{}' : undefined;
}

function emit(v: YamlNode, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v as readonly YamlNode[]) {
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
    if (simple !== undefined) {
      out.push(`${indent}${scalar(key)}: ${simple}\n`);
    } else {
      out.push(`${indent}${scalar(key)}:\n`);
      // Psych puts a sequence's dashes at its key's indentation; a nested mapping goes two spaces in.
      emit(value, Array.isArray(value) ? indent : `${indent}  `, out);
    }
  }
}

/** One item of a block sequence at `indent` (`- key: value` …), exactly as it appears inside a document. */
export function emitSequenceItem(item: YamlNode, indent: string): string {
  const out: string[] = [];
  emit([item], indent, out);
  return out.join('');
}

/** A whole document: `---` then the top-level mapping. */
export function emitYamlDocument(root: { readonly [key: string]: YamlNode }): string {
  const out = ['---\n'];
  emit(root, '', out);
  return out.join('');
}
