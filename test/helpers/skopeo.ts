/**
 * Debian's skopeo for the OCI interop tests: copies between `docker://` references and `inspect --raw`, over plain
 * HTTP on loopback. Asynchronous on purpose: the registry on the other end may live in this very process (a Wharf
 * test app), which a `spawnSync` would starve.
 */
import { execFileSync } from 'node:child_process';
import { runProcess, type ProcessResult } from './process.js';

export const SKOPEO_BIN = process.env.WHARF_SKOPEO || '/usr/bin/skopeo';

export interface Creds {
  username: string;
  password: string;
}

export type SkopeoResult = ProcessResult;

export function skopeoMissing(): string | undefined {
  try {
    execFileSync(SKOPEO_BIN, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch {
    return `${SKOPEO_BIN} is not installed (apt-get install skopeo, as .ci/run does)`;
  }
}

export function runSkopeo(args: readonly string[], timeoutMs = 60_000): Promise<SkopeoResult> {
  // A policy accepting anything: the default /etc/containers/policy.json may be absent on a CI machine, and
  // signature policy is not what these tests are about.
  return runProcess(SKOPEO_BIN, ['--insecure-policy', ...args], { timeoutMs, label: `skopeo ${args.join(' ')}` });
}

const credsArg = (flag: string, c: Creds | undefined): string[] => (c ? [flag, `${c.username}:${c.password}`] : []);

/** `skopeo copy --all docker://src docker://dest`, plain HTTP both sides; refs are `host:port/repo:tag`. */
export function skopeoCopy(src: string, dest: string, options: { srcCreds?: Creds; destCreds?: Creds; timeoutMs?: number } = {}): Promise<SkopeoResult> {
  return runSkopeo(
    [
      'copy',
      '--all',
      // Keep the manifest byte for byte: digests must survive the copy.
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...credsArg('--src-creds', options.srcCreds),
      ...credsArg('--dest-creds', options.destCreds),
      `docker://${src}`,
      `docker://${dest}`,
    ],
    options.timeoutMs,
  );
}

/** `skopeo inspect --raw docker://ref`: the manifest exactly as the registry serves it. */
export function skopeoInspectRaw(ref: string, options: { creds?: Creds; timeoutMs?: number } = {}): Promise<SkopeoResult> {
  return runSkopeo(['inspect', '--raw', '--tls-verify=false', ...credsArg('--creds', options.creds), `docker://${ref}`], options.timeoutMs);
}
