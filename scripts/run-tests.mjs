#!/usr/bin/env node
// Runs one test tier with node:test through tsx. Node 20's `--test` does not expand globs, so this lists the files.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const tiers = process.argv.slice(2);
if (tiers.length === 0) {
  console.error('usage: node scripts/run-tests.mjs <unit|service|integration|e2e|browser> [...]');
  process.exit(2);
}
const list = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? list(p) : p.endsWith('.test.ts') ? [p] : [];
  });
const files = tiers.flatMap((t) => list(path.join('test', t))).sort();
if (files.length === 0) {
  console.error(`no test files in ${tiers.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.WHARF_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
