/**
 * The reasons behind the code live in docs/design/, in the repository. This test keeps it that way: no file under
 * src/, test/, bench/ or scripts/ may cite the design documents the project started from (they are not in the
 * repository; `scripts/rewrite-design-refs.mjs` turns such citations into links), and every
 * `docs/design/<note>.md#<anchor>` those files cite must name a note that exists and a heading of it that produces
 * the anchor (GitHub's slugs). So renaming a heading that code points at fails here, not in a reader's browser.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DESIGN = path.join(ROOT, 'docs/design');
const SCANNED = ['src', 'test', 'bench', 'scripts'];
const TEXT = /\.(?:ts|mts|cts|js|mjs|cjs|md|json|ya?ml)$/;

/** The old documents, named without writing their names here (this file is scanned too). */
const FORBIDDEN = ['gitlab-api', 'clients', 'peers', 'architecture', 'style-anchors'].map((stem) => `${stem}.md`);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.isFile() && TEXT.test(entry.name)) out.push(full);
  }
  return out;
}

const files = SCANNED.flatMap((dir) => walk(path.join(ROOT, dir)));
const rel = (file: string): string => path.relative(ROOT, file);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`, repeats numbered `-1`, `-2`, … */
function slugs(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const anchorsOf = new Map<string, Set<string> | null>();
function anchors(note: string): Set<string> | null {
  if (!anchorsOf.has(note)) {
    const file = path.join(DESIGN, note);
    anchorsOf.set(note, existsSync(file) ? slugs(readFileSync(file, 'utf8')) : null);
  }
  return anchorsOf.get(note)!;
}

/** A note, a note with an anchor, or a note with a list of anchors (`…/note.md#x, #y`, as the rewrite script writes them). */
const CITATION = /docs\/design\/([\w.-]+\.md)((?:#[\w-]+)?(?:, #[\w-]+)*)/g;

function citations(text: string): Array<{ note: string; anchor: string | undefined; line: number }> {
  const out: Array<{ note: string; anchor: string | undefined; line: number }> = [];
  for (const m of text.matchAll(CITATION)) {
    const line = text.slice(0, m.index).split('\n').length;
    const list = m[2]!.split(/,? ?#/).filter(Boolean);
    if (list.length === 0) out.push({ note: m[1]!, anchor: undefined, line });
    for (const anchor of list) out.push({ note: m[1]!, anchor, line });
  }
  return out;
}

function problemsWith(note: string, anchor: string | undefined): string | undefined {
  const known = anchors(note);
  if (known === null) return `docs/design/${note} does not exist`;
  if (anchor !== undefined && !known.has(anchor)) return `docs/design/${note} has no heading for #${anchor}`;
  return undefined;
}

describe('design references', () => {
  it('computes GitHub heading anchors', () => {
    const s = slugs('# Title\n## npm, pnpm and Yarn together\n### Reading index.yaml\n```\n# not a heading\n```\n## Matrix: Helm\n## Matrix: Helm\n');
    assert.deepEqual([...s], ['title', 'npm-pnpm-and-yarn-together', 'reading-indexyaml', 'matrix-helm', 'matrix-helm-1']);
  });

  it('no file under src/, test/, bench/ or scripts/ cites a design document outside the repository', () => {
    assert.ok(files.length > 100, `scanned only ${files.length} files`);
    const found: string[] = [];
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const name of FORBIDDEN) if (line.includes(name)) found.push(`${rel(file)}:${i + 1}: ${name}`);
      });
    }
    assert.deepEqual(found, [], 'run `node scripts/rewrite-design-refs.mjs` (and extend its tables if it reports a reference it cannot map)');
  });

  it('the rewrite script has nothing left to rewrite (no bare section numbers of the old documents either)', async () => {
    const script = pathToFileURL(path.join(ROOT, 'scripts/rewrite-design-refs.mjs')).href;
    const { rewrite } = (await import(script)) as { rewrite: (text: string) => { text: string; unresolved: unknown[] } };
    const pending = files
      .filter((file) => !file.endsWith(path.join('scripts', 'rewrite-design-refs.mjs')))
      .filter((file) => {
        const text = readFileSync(file, 'utf8');
        const result = rewrite(text);
        return result.text !== text || result.unresolved.length > 0;
      })
      .map(rel);
    assert.deepEqual(pending, []);
  });

  it('every docs/design note and anchor cited from src/, test/, bench/ or scripts/ exists', () => {
    const problems: string[] = [];
    let count = 0;
    for (const file of files) {
      for (const c of citations(readFileSync(file, 'utf8'))) {
        count++;
        const problem = problemsWith(c.note, c.anchor);
        if (problem) problems.push(`${rel(file)}:${c.line}: ${problem}`);
      }
    }
    assert.ok(count > 50, `found only ${count} citations`);
    assert.deepEqual(problems, []);
  });

  it("every anchor in the rewrite script's tables exists", async () => {
    const script = pathToFileURL(path.join(ROOT, 'scripts/rewrite-design-refs.mjs')).href;
    const tables = (await import(script)) as {
      API_SECTIONS: Record<string, string | string[]>;
      CLIENT_SECTIONS: Record<string, string>;
      ARCHITECTURE_SECTIONS: Record<string, [string, string]>;
    };
    const problems: string[] = [];
    const check = (note: string, anchor: string | undefined, key: string) => {
      const problem = problemsWith(note, anchor || undefined);
      if (problem) problems.push(`${key}: ${problem}`);
    };
    for (const [key, value] of Object.entries(tables.API_SECTIONS)) {
      for (const anchor of Array.isArray(value) ? value : [value]) check('gitlab-compatibility.md', anchor, key);
    }
    for (const [key, anchor] of Object.entries(tables.CLIENT_SECTIONS)) check('client-protocols.md', anchor, key);
    for (const [key, [file, anchor]] of Object.entries(tables.ARCHITECTURE_SECTIONS)) {
      check(path.relative('docs/design', file), anchor, `architecture ${key}`);
    }
    assert.deepEqual(problems, []);
  });

  it('links between the design notes point at headings that exist', () => {
    const problems: string[] = [];
    let count = 0;
    for (const note of readdirSync(DESIGN).filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(path.join(DESIGN, note), 'utf8');
      for (const m of text.matchAll(/\]\((?:\.\/)?([\w.-]*\.md)?#([\w-]+)\)/g)) {
        count++;
        const target = m[1] ?? note;
        // A note another branch adds is checked once it is here.
        if (!existsSync(path.join(DESIGN, target))) continue;
        const problem = problemsWith(target, m[2]);
        if (problem) problems.push(`docs/design/${note}: ${problem}`);
      }
    }
    assert.ok(count > 20, `found only ${count} links`);
    assert.deepEqual(problems, []);
  });
});
