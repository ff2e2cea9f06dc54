/**
 * The CNCF distribution reference registry (Debian's `docker-registry`) on loopback, for the OCI tests: the
 * conformance suite is proven against it, and skopeo/helm interop copies between it and Wharf.
 *
 * It cannot listen on port 0 and report the port back, so a free loopback port is chosen first (the same way as
 * the bench's `freePort`), and a start that loses the port to another process is retried on a new one. Config,
 * storage and the optional htpasswd file live in a private temporary directory removed on `stop()`. With
 * `credentials`, Basic auth is on (bcrypt file written by `htpasswd` from apache2-utils, which .ci/run installs).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const DOCKER_REGISTRY_BIN = process.env.WHARF_DOCKER_REGISTRY || '/usr/bin/docker-registry';

export interface OciRegistryOptions {
  /** Turns on Basic auth with this one user. */
  credentials?: { username: string; password: string };
  timeoutMs?: number;
}

export interface OciRegistry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, as skopeo's `docker://` and helm's `oci://` references want it. */
  host: string;
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Whether the binary is there: the suite skips with this reason on a machine .ci/run has not prepared. */
export function dockerRegistryMissing(): string | undefined {
  try {
    execFileSync(DOCKER_REGISTRY_BIN, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch {
    return `${DOCKER_REGISTRY_BIN} is not installed (apt-get install docker-registry, as .ci/run does)`;
  }
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function htpasswdLine(username: string, password: string): string {
  // -B: bcrypt, the only scheme distribution's htpasswd reader accepts. -i reads the password from stdin so it
  // never appears in a process listing.
  return execFileSync('htpasswd', ['-niB', username], { input: `${password}\n`, encoding: 'utf8', timeout: 30_000 }).trim();
}

function configYaml(port: number, dir: string, auth: boolean): string {
  // JSON is YAML: no quoting questions for the temporary paths.
  return JSON.stringify(
    {
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: path.join(dir, 'storage') }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
      http: { addr: `127.0.0.1:${port}`, secret: 'wharf-test-registry-secret', headers: { 'X-Content-Type-Options': ['nosniff'] } },
      ...(auth ? { auth: { htpasswd: { realm: 'wharf-test-registry', path: path.join(dir, 'htpasswd') } } } : {}),
    },
    null,
    2,
  );
}

async function startOnce(dir: string, auth: boolean, timeoutMs: number): Promise<OciRegistry | 'port-taken'> {
  const port = await freeLoopbackPort();
  const config = path.join(dir, `config-${port}.yml`);
  writeFileSync(config, configYaml(port, dir, auth));
  const child = spawn(DOCKER_REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      if (/address already in use/.test(log)) return 'port-taken';
      throw new Error(`docker-registry exited with ${child.exitCode}:\n${log}`);
    }
    try {
      const r = await fetch(`${url}/v2/`);
      await r.arrayBuffer();
      // 401 is the ready answer when auth is on: the registry is up and asks for credentials.
      if (r.status === 200 || (auth && r.status === 401)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not answer GET /v2/ within ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    child,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startOciRegistry(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wharf-oci-registry-'));
  const auth = options.credentials !== undefined;
  try {
    if (options.credentials) writeFileSync(path.join(dir, 'htpasswd'), `${htpasswdLine(options.credentials.username, options.credentials.password)}\n`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await startOnce(dir, auth, options.timeoutMs ?? 20_000);
      if (r === 'port-taken') continue;
      const stop = r.stop;
      return { ...r, stop: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); } };
    }
    throw new Error('docker-registry lost its port to another process five times');
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
