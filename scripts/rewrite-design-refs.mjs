#!/usr/bin/env node
/**
 * Rewrites references to the design documents the project started from, which are not in the repository (the GitLab
 * API specification, the client study, the architecture and style notes), into links to the project's own notes in
 * docs/design/. Comments used to say `(<spec> §3.4)` or `(<client study> A.5.2)`; they now say
 * `(docs/design/gitlab-compatibility.md#npm-decision-procedure)`.
 *
 *   node scripts/rewrite-design-refs.mjs           rewrite src/, test/, bench/, scripts/ and CONTRIBUTING.md in place
 *   node scripts/rewrite-design-refs.mjs --check   change nothing; exit 1 if anything is left to rewrite
 *
 * Mechanical and idempotent: it only touches text that still names one of the old documents, or a bare section
 * number (`§4.1.2`, never `RFC 9110 §13.1.2`) or a bare client-study key in parentheses (`(A.11.3)`), and its output
 * contains none of these, so a second run changes nothing. A reference it cannot map is reported with its file and
 * line, and the run exits 1: add the section to the tables below (and a heading to the note) rather than editing by
 * hand, so that branches merged later can be rewritten the same way.
 *
 * The old documents' names are assembled at run time, so this file does not mention them and
 * test/unit/design-refs.test.ts can forbid them everywhere.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const doc = (stem) => `${stem}.md`;
const OLD = {
  api: doc('gitlab-api'),
  clients: doc('clients'),
  architecture: doc('architecture'),
  peers: doc('peers'),
  style: doc('style-anchors'),
};

const GC = 'docs/design/gitlab-compatibility.md';
const CP = 'docs/design/client-protocols.md';

/** GitLab API specification: section → anchor in gitlab-compatibility.md (a range or a quoted subsection may have its own entry). */
export const API_SECTIONS = {
  '0': 'sources',
  '1': 'route-table',
  '1.1': 'route-table',
  '1.2': 'npm-credential-lookup',
  '1.3': 'headers',
  '1.4': 'limits',
  '2': 'route-table',
  '2.1': 'npm-routes',
  '2.1–2.3': 'npm-routes',
  '2.2': 'group-and-instance-endpoints',
  '2.3': 'group-and-instance-endpoints',
  '2.4': 'helm-routes',
  '2.5': 'package-management-api',
  '2.6': 'what-gitlab-leaves-out',
  '2.7': 'path-segments',
  '3': 'credentials',
  '3.1': 'npm-credential-lookup',
  '3.1 "Scopes"': 'token-scopes',
  '3.1–3.4': ['credentials', 'abilities', 'npm-decision-procedure'],
  '3.2': 'helm-credentials',
  '3.3': 'abilities',
  '3.4': 'npm-decision-procedure',
  '3.4 "Group/instance metadata"': 'group-and-instance-metadata',
  '3.5': 'status-matrices',
  '3.5.1': 'matrix-project-packument',
  '3.5.2': 'matrix-group-packument',
  '3.5.3': 'matrix-instance-packument',
  '3.5.4': 'matrix-dist-tag-reads',
  '3.5.5': 'matrix-dist-tag-writes',
  '3.5.6': 'matrix-audit',
  '3.5.7': 'matrix-tarball',
  '3.5.8': 'matrix-publish',
  '3.5.9': 'matrix-helm',
  '4': 'packument-shape',
  '4.1': 'packument-shape',
  '4.1.1': 'packument-shape',
  '4.1.2': 'tarball-urls',
  '4.1.3': 'merging-across-projects',
  '4.1.4': 'packument-shape',
  '4.2': 'automatic-latest',
  '4.3': 'tarball-downloads',
  '4.4': 'npm-publish',
  '4.5': 'npm-audit',
  '4.6': 'helm-index',
  '4.7': 'helm-chart-downloads',
  '4.8': 'helm-upload',
  '5': 'npm-publish',
  '5.1': 'npm-publish',
  '5.1.1': 'npm-publish',
  '5.1.2': 'npm-publish',
  '5.1.3': 'publish-checks',
  '5.1.4': 'npm-publish',
  '5.1.5': 'npm-publish',
  '5.2': 'dist-tags',
  '5.3': 'helm-upload',
  '5.4': 'deletion',
  '6': 'forwarding',
  '6.1': 'forwarding',
  '6.2': 'deprecation',
  '6.3': 'unpublish',
  '7.1': 'metadata-caches',
  '7.2': 'headers',
  '7.3': 'headers',
  '7.4': 'limits',
  '7.5': 'protection-rules',
  '7.6': 'sources',
  '7.7': 'tarball-downloads',
  '9': 'where-wharf-differs',
  'Appendix A': 'names-and-versions',
  'Appendix B': 'package-statuses',
  'Appendix C': 'npm-decision-procedure',
  'Appendix D': 'helm-index',
};

/** Client study: key → anchor in client-protocols.md; section 8 of the API specification (client flows) lands here too. */
export const CLIENT_SECTIONS = {
  'A.1': 'npm-requests',
  'A.1.1': 'npm-requests',
  'A.1.2': 'name-escaping',
  'A.1.3': 'npm-headers',
  'A.1.4': 'npm-errors-and-retries',
  'A.2': 'npm-credentials',
  'A.2.1': 'npm-credentials',
  'A.2.2': 'npm-credentials',
  'A.2.3': 'npm-credentials',
  'A.2.4': 'npm-credentials',
  'A.3': 'packuments',
  'A.3.1': 'packuments',
  'A.3.2': 'packuments',
  'A.3.3': 'packuments',
  'A.3.4': 'abbreviated-packuments',
  'A.3.5': 'integrity',
  'A.3.6': 'tarball-urls',
  'A.4': 'tarball-downloads',
  'A.4–A.8': 'npm-requests',
  'A.5': 'npm-publish',
  'A.5.1': 'npm-publish',
  'A.5.2': 'publish-body',
  'A.5.3': 'npm-publish',
  'A.5.4': 'publish-body',
  'A.5.5': 'npm-errors-and-retries',
  'A.5.6': 'npm-publish',
  'A.5.7': 'other-npm-commands',
  'A.5.8': 'other-npm-commands',
  'A.6': 'npm-unpublish',
  'A.7': 'npm-dist-tag',
  'A.8': 'npm-deprecate',
  'A.9': 'other-npm-commands',
  'A.10': 'other-npm-commands',
  'A.11': 'npm-login',
  'A.11.1': 'web-login',
  'A.11.2': 'legacy-login',
  'A.11.3': 'npm-logout',
  'A.12': 'whoami-and-ping',
  'A.13': 'other-npm-commands',
  'A.14': 'npm-search',
  'A.15': 'packuments',
  'A.16': 'npm-audit',
  'A.17': 'other-npm-commands',
  'A.18': 'other-npm-commands',
  B: 'npm-pnpm-and-yarn-together',
  'B.1': 'pnpm',
  'B.2': 'yarn-berry',
  'B.3': 'npm-pnpm-and-yarn-together',
  C: 'helm-repo-add',
  'C.1': 'helm-repo-add',
  'C.2': 'helm-repo-add',
  'C.3': 'helm-repo-add',
  'C.4': 'helm-install',
  'C.5': 'reading-indexyaml',
  'C.6': 'helm-cm-push',
  'C.7': 'chartmuseum-api',
  D: 'chart-archives',
  'D.1': 'chart-archives',
  'D.2': 'chart-archives',
  'D.3': 'chart-archives',
  'D.4': 'provenance-files',
  E: 'npm-pnpm-and-yarn-together',
};

/** Architecture notes: quoted section (or none) → file and anchor. */
export const ARCHITECTURE_SECTIONS = {
  '': ['docs/design/README.md', ''],
  'Data model': [GC, 'metadata-caches'],
  'Speed by design': [GC, 'metadata-caches'],
  'Scale-out': [GC, 'metadata-caches'],
};

/** API specification section 8 (client flows) points into client-protocols.md. */
const API_CLIENT_FLOWS = { '8': 'npm-requests', '8.1': 'npm-requests', '8.2': 'helm-repo-add' };

const NUM = String.raw`\d+(?:\.\d+)*`;
const SEP = String.raw`(?:,? and |, )`;
/** A quoted subsection name may wrap onto the next comment line (`"Group/instance\n * metadata"`). */
const QUOTED = String.raw`"[^"]{1,80}"`;
const SECTION = String.raw`§${NUM}(?:–§?${NUM})?(?: ${QUOTED})?`;
const API_ITEM = String.raw`(?:${SECTION}|Appendix [A-D])`;
const CLIENT_KEY = String.raw`[A-E](?:\.\d+)*`;
const CLIENT_ITEM = String.raw`${CLIENT_KEY}(?:–${CLIENT_KEY})?`;
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The file name as comments wrote it: bare, in backticks, or behind a relative path (`../../spec/…`). */
const named = (file) => String.raw`\`?(?:(?:\.\.?/)*(?:[\w-]+/)*)?${esc(file)}\`?`;
/** A step label after a section (`§5.1.3 8c`), kept as `, step 8c`. */
const STEP = String.raw`(?: (\d+[a-e])\b)?`;

/** Each rule has exactly two groups: the list of sections, and an optional step label. */
const RULES = [
  // `<spec> §3.4 "Group/instance metadata", §4.1.2 and Appendix B`, and the file named without a section.
  { re: new RegExp(String.raw`${named(OLD.api)}(?: (${API_ITEM}(?:${SEP}${API_ITEM})*)${STEP})?`, 'g'), kind: 'api' },
  { re: new RegExp(String.raw`${named(OLD.clients)}(?: (${CLIENT_ITEM}(?:${SEP}${CLIENT_ITEM})*)\b)?()`, 'g'), kind: 'clients' },
  { re: new RegExp(String.raw`${named(OLD.architecture)}(?: (${QUOTED}(?:${SEP}${QUOTED})*))?()`, 'g'), kind: 'architecture' },
  { re: new RegExp(String.raw`(?:${named(OLD.peers)}|${named(OLD.style)})()()`, 'g'), kind: 'unmapped' },
  // Bare section numbers continuing an earlier reference (`(§4.1.1)`, `GitLab §3.5.5`); RFC sections are not ours.
  { re: new RegExp(String.raw`(?<!RFC \d{1,5} ?)(?:GitLab )?(${SECTION}(?:${SEP}${SECTION})*)${STEP}`, 'g'), kind: 'api' },
  { re: new RegExp(String.raw`\((${CLIENT_KEY}\.\d+(?:\.\d+)*)\)()`, 'g'), kind: 'clients-bare' },
];

/** `3.4 "Group/instance metadata"`, `2.1–2.3`, `Appendix B`, `A.5.2`: one item of a list, normalised. */
function splitItems(list) {
  return list
    .split(new RegExp(SEP))
    .map((item) => item.replace(/\s*\n\s*\*?\s*/g, ' ').trim().replace(/^§/, '').replace(/–§/, '–'));
}

/** `[file, anchor]` pairs for one item, or undefined when the tables do not know it. */
function resolveApi(item) {
  const number = item.split(' "')[0];
  for (const key of [item, number]) {
    if (key in API_CLIENT_FLOWS) return [[CP, API_CLIENT_FLOWS[key]]];
    const hit = API_SECTIONS[key];
    if (hit) return (Array.isArray(hit) ? hit : [hit]).map((anchor) => [GC, anchor]);
  }
  return undefined;
}

function resolveClient(item) {
  const hit = CLIENT_SECTIONS[item];
  return hit ? [[CP, hit]] : undefined;
}

/** `<note>#x, #y, <other note>#z` from a list of `[file, anchor]`, without repeats. */
function formatLinks(links) {
  const seen = new Set();
  const parts = [];
  let lastFile;
  for (const [file, anchor] of links) {
    const id = `${file}#${anchor}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!anchor) parts.push(file);
    else parts.push(file === lastFile ? `#${anchor}` : `${file}#${anchor}`);
    lastFile = file;
  }
  return parts.join(', ');
}

/** Rewrites one text; returns the new text and the references it could not map. */
export function rewrite(text) {
  const unresolved = [];
  // A test title that starts with a bare section (`describe('§3.5.1 packument GET …')`) keeps its words first.
  let out = text.replace(new RegExp(String.raw`(['\`])(${SECTION}) ([^'\`\n]*)\1`, 'g'), (match, quote, section, rest, offset) => {
    const links = resolveApi(splitItems(section)[0]);
    if (links) return `${quote}${rest} (${formatLinks(links)})${quote}`;
    unresolved.push({ match, offset });
    return match;
  });
  for (const { re, kind } of RULES) {
    out = out.replace(re, (match, list, step, offset) => {
      let links;
      if (kind === 'architecture') {
        const names = list ? [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1].replace(/\s*\n\s*\*?\s*/g, ' ')) : [''];
        const found = names.map((n) => ARCHITECTURE_SECTIONS[n]);
        links = found.every(Boolean) ? found : undefined;
      } else if (kind === 'clients-bare') {
        links = resolveClient(list);
        if (links) return `(${formatLinks(links)})`;
      } else if (kind !== 'unmapped') {
        if (!list) {
          // The document named without a section: its note as a whole.
          links = [[kind === 'api' ? GC : CP, '']];
        } else {
          const resolved = splitItems(list).map((item) => (kind === 'api' ? resolveApi(item) : resolveClient(item)));
          links = resolved.every(Boolean) ? resolved.flat() : undefined;
        }
      }
      if (!links) {
        unresolved.push({ match, offset });
        return match;
      }
      return formatLinks(links) + (step ? `, step ${step}` : '');
    });
  }
  const lineOf = (offset) => text.slice(0, offset).split('\n').length;
  return { text: out, unresolved: unresolved.map((u) => ({ reference: u.match, line: lineOf(u.offset) })) };
}

const ROOTS = ['src', 'test', 'bench', 'scripts'];
const FILES = ['CONTRIBUTING.md'];
const TEXT = /\.(?:ts|mts|cts|js|mjs|cjs|md)$/;

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile() && TEXT.test(entry.name)) yield full;
  }
}

function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const root = args.find((a) => !a.startsWith('--')) ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const self = fileURLToPath(import.meta.url);
  const files = [
    ...ROOTS.flatMap((dir) => {
      const full = path.join(root, dir);
      try {
        return statSync(full).isDirectory() ? [...walk(full)] : [];
      } catch {
        return [];
      }
    }),
    ...FILES.map((f) => path.join(root, f)).filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    }),
  ].filter((f) => path.resolve(f) !== path.resolve(self));

  let changed = 0;
  let failures = 0;
  for (const file of files) {
    const before = readFileSync(file, 'utf8');
    const { text, unresolved } = rewrite(before);
    const rel = path.relative(root, file);
    for (const u of unresolved) {
      failures++;
      console.error(`${rel}:${u.line}: no mapping for ${JSON.stringify(u.reference)}`);
    }
    if (text !== before) {
      changed++;
      console.log(`${check ? 'would rewrite' : 'rewrote'} ${rel}`);
      if (!check) writeFileSync(file, text);
    }
  }
  console.log(`${changed} file(s) ${check ? 'to rewrite' : 'rewritten'}, ${failures} unmapped reference(s)`);
  if (failures > 0 || (check && changed > 0)) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
