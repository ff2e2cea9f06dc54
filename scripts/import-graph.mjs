#!/usr/bin/env node
// Draws the import picture between Wharf's layers and checks the layer rules (CONTRIBUTING.md, "Layers").
//
//   node scripts/import-graph.mjs            edge counts between layers, then any forbidden edges (exit 1 if some)
//   node scripts/import-graph.mjs --files    also lists each cross-layer import (file → file)
//   node scripts/import-graph.mjs --json     the whole analysis as JSON
//
// No dependency: relative import specifiers are read with a regular expression, which is enough for this code base
// (every relative import is a static `import … from '…'`, `export … from '…'` or `import('…')` with a literal).
// test/unit/layers.test.ts runs `analyse()` and fails on any forbidden edge.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The layer a file belongs to, from its path relative to `src/`. */
export function layerOf(rel) {
  const p = rel.split(path.sep).join('/');
  if (p === 'compose.ts' || p === 'app.ts' || p === 'main.ts' || p === 'app-deps.ts') return p;
  const top = p.split('/')[0];
  if (p.includes('/')) return top;
  return 'root'; // version.ts and other leaf modules at the top
}

/**
 * The rules, each a predicate over one edge. `allow` lists files (relative to src/) whose imports of storage are
 * still tolerated while their services are being moved onto ports; it may only shrink.
 */
export const RULES = [
  {
    name: 'domain is pure: it imports only domain',
    forbids: (e) => e.from === 'domain' && e.to !== 'domain',
  },
  {
    name: 'http and web never import storage',
    forbids: (e) => (e.from === 'http' || e.from === 'web') && e.to === 'storage',
  },
  {
    name: 'http and web never import the composition root (they take AppDeps from app-deps.ts)',
    forbids: (e) => (e.from === 'http' || e.from === 'web') && e.to === 'compose.ts',
  },
  {
    name: 'only compose.ts (and the CLI, which opens a second database for transfers) imports storage',
    forbids: (e) => e.to === 'storage' && !['storage', 'compose.ts', 'cli', 'services', 'http', 'web'].includes(e.from),
  },
  {
    name: 'services import storage only where still listed in SERVICES_ON_STORAGE (the list only shrinks)',
    forbids: (e) => e.from === 'services' && e.to === 'storage' && !SERVICES_ON_STORAGE.includes(e.fromFile),
  },
  {
    name: 'storage implements ports: from services it imports types only, and nothing from http or web',
    forbids: (e) => e.from === 'storage' && (e.to === 'http' || e.to === 'web' || (e.to === 'services' && !e.typeOnly)),
  },
];

/**
 * Services allowed to import storage. Empty since every service declares its own ports; it stays as the one place
 * an exception would have to be written down (with why), and the test keeps every other service off storage.
 */
export const SERVICES_ON_STORAGE = [];

const IMPORT_RE =
  /(?:^|[;\s])(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Whether the import statement brings in types only (`import type`, or every named specifier marked `type`). */
function isTypeOnly(typeKeyword, clause) {
  if (typeKeyword) return true;
  const m = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (!m) return false;
  const names = m[1].split(',').map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith('type '));
}

function listTs(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return listTs(p);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every cross-layer import edge under `srcDir`, with counts per layer pair and the edges the rules forbid. */
export function analyse(srcDir) {
  const edges = [];
  for (const file of listTs(srcDir)) {
    const fromFile = path.relative(srcDir, file).split(path.sep).join('/');
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[4] ?? m[5];
      const dynamic = m[5] !== undefined;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      const toFile = path.relative(srcDir, target).split(path.sep).join('/');
      if (toFile.startsWith('..')) continue;
      const from = layerOf(fromFile);
      const to = layerOf(toFile);
      edges.push({ from, to, fromFile, toFile, typeOnly: !dynamic && isTypeOnly(m[2], m[3] ?? '') });
    }
  }
  const counts = new Map();
  for (const e of edges) {
    if (e.from === e.to) continue;
    const key = `${e.from} → ${e.to}`;
    const c = counts.get(key) ?? { edge: key, imports: 0, typeOnly: 0, files: new Set(), pairs: new Set() };
    c.imports += 1;
    if (e.typeOnly) c.typeOnly += 1;
    c.files.add(e.fromFile);
    c.pairs.add(`${e.fromFile} ${e.toFile}`);
    counts.set(key, c);
  }
  const forbidden = [];
  for (const e of edges) for (const r of RULES) if (r.forbids(e)) forbidden.push({ rule: r.name, ...e });
  const servicesOnStorage = [...new Set(edges.filter((e) => e.from === 'services' && e.to === 'storage').map((e) => e.fromFile))].sort();
  return {
    edges,
    counts: [...counts.values()].sort((a, b) => a.edge.localeCompare(b.edge)).map((c) => ({ ...c, files: c.files.size, pairs: c.pairs.size })),
    forbidden,
    servicesOnStorage,
  };
}

function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const result = analyse(path.join(root, 'src'));
  const args = process.argv.slice(2);
  if (args.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log('imports between layers: import statements (of them type-only), distinct file → file pairs, importing files');
    for (const c of result.counts) {
      const n = (v, w) => String(v).padStart(w);
      console.log(`  ${c.edge.padEnd(26)} ${n(c.imports, 4)} (${n(c.typeOnly, 3)} type-only)  ${n(c.pairs, 4)} pairs  ${n(c.files, 3)} files`);
    }
    if (args.includes('--files')) {
      console.log('\ncross-layer imports:');
      for (const e of result.edges) if (e.from !== e.to) console.log(`  ${e.fromFile} → ${e.toFile}${e.typeOnly ? ' (type)' : ''}`);
    }
    console.log(`\nservices still importing storage (${result.servicesOnStorage.length}):`);
    for (const f of result.servicesOnStorage) console.log(`  ${f}`);
    console.log(`\nforbidden edges: ${result.forbidden.length}`);
    for (const f of result.forbidden) console.log(`  ${f.fromFile} → ${f.toFile}  [${f.rule}]`);
  }
  process.exitCode = result.forbidden.length > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
