/** Child processes for the benchmark: start, wait until ready, read peak RSS, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';

export interface Proc {
  name: string;
  child: ChildProcess;
  url: string;
  /** Milliseconds from spawn to the first successful readiness probe. */
  startMs: number;
  stop(): Promise<void>;
}

/** CPU time (user + system, every thread) a live process has used so far, in milliseconds (10 ms resolution). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak resident set size (VmHWM) of a live process, in MB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export async function waitFor(url: string, timeoutMs: number, ok: (status: number) => boolean = (s) => s === 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (ok(r.status)) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env?: Record<string, string>;
  url: string;
  readyPath: string;
  logFile: string;
  readyStatus?: (status: number) => boolean;
}

export async function spawnServer(o: SpawnOptions): Promise<Proc> {
  const log = openSync(o.logFile, 'a');
  const started = performance.now();
  const child = spawn(o.command, o.args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', log, log] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failed: Error | undefined;
  child.once('exit', (code) => (failed = new Error(`${o.name} exited with ${code}; see ${o.logFile}`)));
  await Promise.race([
    waitFor(o.url + o.readyPath, 120_000, o.readyStatus),
    exited.then(() => {
      throw failed;
    }),
  ]);
  const startMs = performance.now() - started;
  return {
    name: o.name,
    child,
    url: o.url,
    startMs,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A free loopback port (the bench's servers all need one chosen before they start). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
