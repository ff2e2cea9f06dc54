/** Starting real `wharf` processes for end-to-end tests: port 0 on loopback, address read back from the log. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WHARF_BIN = path.join(REPO, 'bin/wharf.js');

export interface WharfProcess {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startWharf(env: Record<string, string>, timeoutMs = 30_000): Promise<WharfProcess> {
  const child = spawn(process.execPath, [WHARF_BIN, 'serve'], {
    cwd: REPO,
    env: { ...process.env, WHARF_HOST: '127.0.0.1', WHARF_PORT: '0', WHARF_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wharf did not start in ${timeoutMs} ms\n${out}\n${err}`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"address":"(http:\/\/[^"]+)".*"msg":"Wharf is listening"/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wharf exited with ${code} before listening\n${out}\n${err}`));
    });
  });
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a `wharf` CLI command to completion. */
export function runWharf(args: string[], env: Record<string, string>, input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WHARF_BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, WHARF_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    ...(input !== undefined ? { input } : {}),
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs a `wharf` CLI command without blocking this process: needed whenever the command talks to a server living
 * in the test process itself (s3rver), which `spawnSync` would starve.
 */
export function runWharfAsync(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [WHARF_BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, WHARF_LOG_LEVEL: 'warn', ...env },
    timeoutMs,
    label: `wharf ${args[0]}`,
  }).then(({ code, stdout, stderr }) => ({ status: code, stdout, stderr }));
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to its end without blocking this process (the server under test may live in it), collecting its
 * output; killed and rejected after `timeoutMs`, with what it printed so far.
 */
export function runProcess(
  bin: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; label: string },
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.label} did not finish within ${options.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
