/**
 * The proxied-npm scenarios' material: Verdaccio's configuration (with or without an uplink), a timed cold
 * `npm install` of the fake upstream's tree through a registry, and the check that Wharf proxies at all (the
 * caching proxy of docs/npm-proxy.md), so that a Wharf without it skips these scenarios with a message instead of
 * failing on a 302 in the middle of a load run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generatedTree } from '../../test/helpers/fake-upstream.js';

/** A name outside the tree that the bench asks Wharf for first, to see whether it proxies. */
export const PROBE = 'bench-probe';

/** The tree's root dependencies (`{name: range}`), as the fake upstream process serves them. */
export const treeDependencies = (): Record<string, string> => generatedTree().roots;

/** Verdaccio 6's config: htpasswd auth, every package readable, proxied to `uplink` when given. */
export function verdaccioConfig(uplink?: string): string {
  const proxy = uplink ? ['    proxy: upstream'] : [];
  return [
    'storage: ./storage',
    'auth:',
    '  htpasswd:',
    '    file: ./htpasswd',
    '    max_users: 1000',
    ...(uplink ? ['uplinks:', '  upstream:', `    url: ${uplink}/`, '    cache: true', '    timeout: 30s'] : ['uplinks: {}']),
    'packages:',
    "  '@*/*':",
    '    access: $all',
    '    publish: $authenticated',
    ...proxy,
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    ...proxy,
    'log: { type: stdout, format: json, level: error }',
    'max_body_size: 100mb',
    '',
  ].join('\n');
}

/**
 * Whether Wharf's instance endpoint proxies: the probe's packument is a 200 whose tarball URL is Wharf's (not a
 * 302 to the upstream). Returns why not, or undefined when it does.
 */
export async function proxyMissing(wharfUrl: string): Promise<string | undefined> {
  const r = await fetch(`${wharfUrl}/api/v4/packages/npm/${PROBE}`, { redirect: 'manual', headers: { accept: 'application/json' } });
  const text = await r.text();
  if (r.status !== 200) return `GET /api/v4/packages/npm/${PROBE} answered ${r.status}${r.headers.get('location') ? ` → ${r.headers.get('location')}` : ''}`;
  let tarball: string | undefined;
  try {
    tarball = (JSON.parse(text) as { versions?: Record<string, { dist?: { tarball?: string } }> }).versions?.['1.0.0']?.dist?.tarball;
  } catch {
    return `GET /api/v4/packages/npm/${PROBE} is not JSON`;
  }
  if (!tarball?.startsWith(`${wharfUrl}/api/v4/packages/npm/`)) return `the proxied packument's tarball URL is ${tarball ?? 'missing'}, not Wharf's`;
  return undefined;
}

/**
 * `npm install` of the tree into a fresh directory with a fresh npm cache, through `registry` (with its trailing
 * slash); `npmrc` adds credentials. Returns the wall time in ms; throws with npm's output when it fails.
 */
export async function timedInstall(registry: string, dir: string, npmrc: string[] = []): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-consumer', version: '1.0.0', private: true, dependencies: treeDependencies() }));
  writeFileSync(path.join(dir, '.npmrc'), [`registry=${registry}`, ...npmrc, ''].join('\n'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  Object.assign(env, { HOME: dir, npm_config_update_notifier: 'false' });
  const started = performance.now();
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--cache', path.join(dir, '.npm-cache'), '--userconfig', path.join(dir, '.npmrc-user')], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('close', (code) => resolve({ code, text }));
  });
  const ms = performance.now() - started;
  if (out.code !== 0) throw new Error(`npm install through ${registry} failed:\n${out.text}`);
  return ms;
}
