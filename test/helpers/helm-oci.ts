/**
 * The real helm (3.17 or 4.1, from helm-binary.ts) as an OCI client of one registry on loopback: `registry login`,
 * `push`, `pull --version`, `show chart`, `template`, and any other command through `run` (`repo add`, `search
 * repo`), each in a private HELM_* home so no test sees another's credentials.
 * Asynchronous, because the registry may be a Wharf app living in this very process.
 *
 * Plain HTTP on loopback: helm 4 needs `--plain-http` everywhere, including `registry login`; helm 3.17's
 * `registry login` has no `--plain-http` and takes `--insecure` instead (it then falls back to HTTP).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { helmBinary, type HelmMajor } from './helm-binary.js';
import { runProcess, type ProcessResult } from './process.js';

export type HelmRun = ProcessResult;

export interface HelmOciClient {
  major: HelmMajor;
  home: string;
  run(args: readonly string[]): Promise<HelmRun>;
  login(username: string, password: string): Promise<HelmRun>;
  /** `helm push <tgz> oci://<host>/<namespace>` */
  push(tgz: string, namespace: string): Promise<HelmRun>;
  /** `helm pull oci://<host>/<repo> --version v [...extra]`; the archive's bytes when it succeeded. */
  pull(repo: string, version: string, extra?: readonly string[]): Promise<HelmRun & { archive?: Buffer }>;
  showChart(repo: string, version: string): Promise<HelmRun>;
  /** `helm template <release> oci://<host>/<repo> --version v [...extra]` */
  template(release: string, repo: string, version: string, extra?: readonly string[]): Promise<HelmRun>;
  dispose(): void;
}

export async function helmOciClient(major: HelmMajor, host: string, timeoutMs = 60_000): Promise<HelmOciClient> {
  const bin = await helmBinary(major);
  const home = mkdtempSync(path.join(os.tmpdir(), `wharf-helm${major}-oci-`));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_DATA_HOME: path.join(home, 'data'),
    HELM_REGISTRY_CONFIG: path.join(home, 'registry.json'),
    DOCKER_CONFIG: path.join(home, 'docker'),
  };
  const plain = ['--plain-http'];
  const run = (args: readonly string[]): Promise<HelmRun> => runProcess(bin, args, { env, cwd: home, timeoutMs, label: `helm ${major} ${args.join(' ')}` });
  let pulls = 0;
  return {
    major,
    home,
    run,
    login: (username, password) => run(['registry', 'login', host, '-u', username, '-p', password, ...(major === 4 ? plain : ['--insecure'])]),
    push: (tgz, namespace) => run(['push', tgz, `oci://${host}/${namespace}`, ...plain]),
    async pull(repo, version, extra = []) {
      const dest = path.join(home, `pulled-${++pulls}`);
      mkdirSync(dest);
      const r = await run(['pull', `oci://${host}/${repo}`, '--version', version, '-d', dest, ...plain, ...extra]);
      if (r.code !== 0) return r;
      const name = repo.split('/').at(-1)!;
      return { ...r, archive: readFileSync(path.join(dest, `${name}-${version}.tgz`)) };
    },
    showChart: (repo, version) => run(['show', 'chart', `oci://${host}/${repo}`, '--version', version, ...plain]),
    template: (release, repo, version, extra = []) => run(['template', release, `oci://${host}/${repo}`, '--version', version, ...plain, ...extra]),
    dispose: () => rmSync(home, { recursive: true, force: true }),
  };
}
