/**
 * `Chart.yaml`: safe parsing and GitLab's validation (docs/design/gitlab-compatibility.md#helm-upload, `helm_metadata.json`), so that only
 * metadata Helm can read ever reaches an `index.yaml`.
 *
 * The result keeps exactly the keys Helm's `chart.Metadata` knows, nested ones included, in the order the file
 * had them. Helm ≥ 3.4 parses `index.yaml` strictly and refuses a whole repository for one unknown key
 * (docs/design/client-protocols.md#helm-repo-add), and `helm package` writes only these keys, so anything else is refused at upload with a message
 * naming the key, instead of being stored and breaking every client later.
 */
import YAML from 'yaml';
import { errors } from '../errors.js';
import { isValidChartName, isValidChartVersion } from './rules.js';

export interface ChartMaintainer {
  name?: string;
  email?: string;
  url?: string;
}

export type ImportValue = string | { child?: string; parent?: string };

export interface ChartDependency {
  name?: string;
  version?: string;
  repository?: string;
  condition?: string;
  tags?: string[];
  enabled?: boolean;
  'import-values'?: ImportValue[];
  alias?: string;
}

/** The parsed, validated `Chart.yaml`: Helm's `chart.Metadata` fields, nothing else. */
export interface ChartMetadata {
  name: string;
  version: string;
  apiVersion: string;
  home?: string;
  sources?: string[];
  description?: string;
  keywords?: string[];
  maintainers?: ChartMaintainer[];
  icon?: string;
  condition?: string;
  tags?: string;
  appVersion?: string;
  deprecated?: boolean;
  annotations?: Record<string, string>;
  kubeVersion?: string;
  dependencies?: ChartDependency[];
  type?: 'application' | 'library';
}

/** GitLab's `ExtractFileMetadataService::MAX_FILE_SIZE`. */
export const MAX_CHART_YAML_BYTES = 1024 * 1024;

type Spec =
  | 'string'
  | 'boolean'
  | { readonly array: Spec }
  | { readonly object: Readonly<Record<string, Spec>> }
  | { readonly map: 'string' }
  | { readonly enum: readonly string[] }
  | { readonly oneOf: readonly Spec[] };

const STRINGS: Spec = { array: 'string' };

/** `helm_metadata.json` and Helm's `chart.Metadata` / `chart.Dependency` / `chart.Maintainer` structs. */
const METADATA_SPEC: Readonly<Record<keyof ChartMetadata, Spec>> = {
  name: 'string',
  home: 'string',
  sources: STRINGS,
  version: 'string',
  description: 'string',
  keywords: STRINGS,
  maintainers: { array: { object: { name: 'string', email: 'string', url: 'string' } } },
  icon: 'string',
  apiVersion: 'string',
  condition: 'string',
  tags: 'string',
  appVersion: 'string',
  deprecated: 'boolean',
  annotations: { map: 'string' },
  kubeVersion: 'string',
  dependencies: {
    array: {
      object: {
        name: 'string',
        version: 'string',
        repository: 'string',
        condition: 'string',
        tags: STRINGS,
        enabled: 'boolean',
        'import-values': { array: { oneOf: ['string', { object: { child: 'string', parent: 'string' } }] } },
        alias: 'string',
      },
    },
  },
  type: { enum: ['application', 'library'] },
};

/** Keys an index entry may carry besides the metadata (Helm's `ChartVersion`). */
export const METADATA_KEYS: readonly string[] = Object.keys(METADATA_SPEC);

/** Helm's `aliasNameFormat`: an invalid alias makes Helm skip the whole entry when it loads the index. */
const ALIAS = /^[a-zA-Z0-9_-]+$/;

/**
 * YAML 1.1, as Helm (go-yaml v2) and GitLab (Psych) read `Chart.yaml`: `on`, `yes` and `1.10` are not strings there,
 * so they are not here either and fail the type checks instead of being stored as something Helm reads differently.
 * Timestamps stay strings: no `Chart.yaml` field is a date, and a date-like `appVersion` then fails as a non-string
 * only if it really is one.
 */
export const SAFE_YAML_OPTIONS: YAML.ParseOptions & YAML.DocumentOptions & YAML.SchemaOptions = {
  version: '1.1',
  // The library's own check compares every key with every other (quadratic); `parseSafeYaml` checks in linear time.
  uniqueKeys: false,
  prettyErrors: false,
  customTags: (tags: YAML.Tags) => tags.filter((t) => typeof t === 'string' ? t !== 'timestamp' : t.tag !== 'tag:yaml.org,2002:timestamp'),
};

const parseError = (detail: string) => errors.helmChartInvalid(`Error while parsing Chart.yaml: ${detail}`);
const invalid = (detail: string) => errors.helmChartInvalid(`Chart.yaml is invalid: ${detail}`);

/**
 * The YAML parser spends tens of microseconds per node and recurses per nesting level, so a 1 MB document of tiny
 * nodes (`- a` × 200,000) or of deep nesting (`[[[[…`) would hold the event loop for seconds. Real `Chart.yaml`
 * files have a few hundred nodes; these bounds are far above that and keep a hostile one under a few hundred ms.
 */
export const MAX_YAML_NODES = 2_000;
export const MAX_YAML_FLOW_DEPTH = 32;

/** A linear pre-scan: counts the indicators that start nodes and the depth of flow collections outside quotes. */
function yamlBudgetProblem(text: string): string | undefined {
  let nodes = 0;
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    // A quote opens a quoted scalar only where a scalar can start; `it's` or `sprocket"` are plain text.
    if ((c === '"' || c === "'") && /[\s[{,:]/.test(text[i - 1] ?? ' ')) {
      quote = c;
    } else if (c === '[' || c === '{') {
      nodes++;
      if (++depth > MAX_YAML_FLOW_DEPTH) return `collections are nested more than ${MAX_YAML_FLOW_DEPTH} deep`;
    } else if (c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
    } else if (c === ',' || ((c === ':' || c === '-' || c === '?') && /[ \t\r\n]/.test(text[i + 1] ?? ' '))) {
      nodes++;
    }
    if (nodes > MAX_YAML_NODES) return `it has more than ${MAX_YAML_NODES} keys and list items`;
  }
  return undefined;
}

/**
 * Parses YAML text into plain JSON values with the safe options: bounded size of structure, no aliases, no custom
 * tags, no duplicate keys, one document. Failures go through `fail`.
 */
export function parseSafeYaml(text: string, fail: (detail: string) => Error): unknown {
  const tooBig = yamlBudgetProblem(text);
  if (tooBig) throw fail(tooBig);
  let doc: YAML.Document.Parsed;
  try {
    doc = YAML.parseDocument(text, SAFE_YAML_OPTIONS);
  } catch (err) {
    // Deeply nested input can exhaust the parser's stack; that is a parse failure like any other.
    throw fail(err instanceof Error ? err.message : String(err));
  }
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw fail(problem.message.split('\n')[0] ?? problem.message);
  let refusal: string | undefined;
  YAML.visit(doc, {
    Alias() {
      refusal = 'YAML aliases are not allowed';
      return YAML.visit.BREAK;
    },
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = YAML.isScalar(pair.key) ? String(pair.key.value) : JSON.stringify(pair.key);
        if (seen.has(key)) {
          refusal = `Map keys must be unique (${key} appears twice)`;
          return YAML.visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  if (refusal) throw fail(refusal);
  try {
    // Aliases were refused above (GitLab's `YAML.safe_load` refuses them too); this is the second fence.
    return doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
}

/** Decodes `Chart.yaml` bytes: UTF-8 only, a leading byte-order mark dropped (Helm's loader strips it too). */
export function decodeYamlText(bytes: Uint8Array, fail: (detail: string) => Error): string {
  try {
    // `fatal` refuses invalid UTF-8 instead of storing replacement characters; the decoder drops a BOM itself.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail('it is not valid UTF-8');
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

const describe = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'binary data';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return `the number ${String(v)}`;
  if (typeof v === 'boolean') return `the boolean ${String(v)}`;
  return typeof v;
};

const expected = (spec: Spec): string => {
  if (spec === 'string') return 'a string';
  if (spec === 'boolean') return 'true or false';
  if ('array' in spec) return 'a list';
  if ('enum' in spec) return `one of ${spec.enum.join(', ')}`;
  if ('oneOf' in spec) return spec.oneOf.map(expected).join(' or ');
  return 'a mapping';
};

/** An own property even for a key such as `__proto__`, which plain assignment would turn into a prototype change. */
const define = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
};

/**
 * Characters no chart needs in any text field: control characters other than tab, LF and CR (C0, DEL, C1,
 * NEL included), lone UTF-16 surrogates (from `"\uD800"` escapes; not Unicode, no UTF-8 form) and the
 * noncharacters U+FFFE/U+FFFF. Helm strips them from the fields it shows, go-yaml refuses them raw, and they have
 * served to smuggle structure into YAML; refusing them at upload keeps them out of everything Wharf renders.
 * `index.yaml` escapes them anyway (`yaml-emit.ts`), so this is a second fence, not the only one.
 */
const FORBIDDEN_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]|\p{Cs}/u;

const codePoint = (s: string): string => `U+${s.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

function refuseForbidden(text: string, what: () => string): void {
  const m = FORBIDDEN_CHARACTER.exec(text);
  if (m) throw invalid(`${what()} contains ${codePoint(m[0])}: control characters other than tab, line feed and carriage return, lone surrogates and U+FFFE/U+FFFF are not allowed`);
}

/** Checks `value` against `spec` and returns a clean copy (nulls in mappings dropped); throws on the first problem. */
function conform(value: unknown, spec: Spec, path: string): unknown {
  const wrongType = () =>
    invalid(`${path} must be ${expected(spec)}${spec === 'string' && typeof value !== 'object' ? ' (quote it)' : ''}, not ${describe(value)}`);
  if (spec === 'string') {
    if (typeof value !== 'string') throw wrongType();
    refuseForbidden(value, () => path);
    return value;
  }
  if (spec === 'boolean') {
    if (typeof value !== 'boolean') throw wrongType();
    return value;
  }
  if ('enum' in spec) {
    if (typeof value !== 'string' || !spec.enum.includes(value)) throw wrongType();
    return value;
  }
  if ('oneOf' in spec) {
    // When the value has one option's shape, that option's complaint (a forbidden character, an unknown key) is the
    // one worth reporting, not "must be a string or a mapping".
    let specific: unknown;
    for (const option of spec.oneOf) {
      try {
        return conform(value, option, path);
      } catch (err) {
        const sameShape = option === 'string' ? typeof value === 'string' : typeof option === 'object' && 'object' in option && isPlainObject(value);
        if (sameShape) specific = err;
      }
    }
    throw specific ?? wrongType();
  }
  if ('array' in spec) {
    if (!Array.isArray(value)) throw wrongType();
    return value.map((item, i) => conform(item, spec.array, `${path}[${i}]`));
  }
  if (!isPlainObject(value)) throw wrongType();
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // The key is echoed in messages only once it is known to be clean.
    refuseForbidden(key, () => `a key of ${path || 'Chart.yaml'}`);
    const itemPath = path ? `${path}.${key}` : key;
    if ('map' in spec) {
      if (typeof item !== 'string') throw invalid(`${itemPath} must be a string (quote it), not ${describe(item)}`);
      refuseForbidden(item, () => itemPath);
      define(out, key, item);
      continue;
    }
    const itemSpec = Object.hasOwn(spec.object, key) ? spec.object[key] : undefined;
    if (!itemSpec) throw invalid(`unknown key ${itemPath} (Helm's index.yaml allows only Chart.yaml's standard keys)`);
    // An explicit null is what Go's YAML leaves as the zero value: treat it as absent.
    if (item === null) continue;
    define(out, key, conform(item, itemSpec, itemPath));
  }
  return out;
}

/**
 * Parses and validates `Chart.yaml` bytes (BOM tolerated) in GitLab's order: YAML, then the schema (required keys,
 * types, no unknown keys), then the name and version rules with GitLab's messages.
 */
export function parseChartYaml(bytes: Uint8Array): ChartMetadata {
  if (bytes.length > MAX_CHART_YAML_BYTES) throw errors.helmChartInvalid('Chart.yaml too big');
  const text = decodeYamlText(bytes, parseError);
  const raw = parseSafeYaml(text, parseError);
  if (!isPlainObject(raw)) throw invalid(`it must be a mapping of keys to values, not ${describe(raw)}`);
  const metadata = conform(raw, { object: METADATA_SPEC }, '') as Partial<ChartMetadata>;
  for (const key of ['name', 'version', 'apiVersion'] as const) {
    if (metadata[key] === undefined || metadata[key] === '') throw invalid(`${key} is missing`);
  }
  metadata.dependencies?.forEach((dep, i) => {
    if (dep.alias !== undefined && !ALIAS.test(dep.alias)) {
      throw invalid(`dependencies[${i}].alias must contain only letters, digits, '-' and '_'`);
    }
  });
  if (!isValidChartName(metadata.name!)) throw errors.helmChartInvalid('Validation failed: Name is invalid');
  if (!isValidChartVersion(metadata.version!)) throw errors.helmChartInvalid('Validation failed: Version is invalid');
  return metadata as ChartMetadata;
}
