// Helpers of the @conc/shm tests: a child process with a region's fd as its fd 3.
import { type ChildProcess, spawn } from 'node:child_process';
import { wait, wake } from '@conc/shm';

export const childScript = new URL('./fixtures/child.mjs', import.meta.url).pathname;

export interface Child {
  proc: ChildProcess;
  /** Resolves with the child's JSON lines once it exits 0 (rejects otherwise, or after `timeout` ms). */
  done: Promise<any[]>;
}

/** Start fixtures/child.mjs `mode arg` with `fd` as its fd 3; bounded by `timeout`. */
export function startChild(
  fd: number,
  mode: string,
  arg: string | number = '',
  timeout = 25_000,
  env = process.env,
): Child {
  const proc = spawn(process.execPath, [childScript, mode, String(arg)], {
    stdio: ['ignore', 'pipe', 'pipe', fd],
    env,
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const done = new Promise<any[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child ${mode} did not finish in ${timeout} ms: ${err}`));
    }, timeout);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0)
        resolve(
          out
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l)),
        );
      else reject(new Error(`child ${mode} exited ${code ?? signal}: ${err}`));
    });
  });
  return { proc, done };
}

/** Block (bounded) until word `i` of `words` is not `value`. */
export function waitWhile(words: Int32Array, i: number, value: number, timeout = 20_000): void {
  const end = Date.now() + timeout;
  while (Atomics.load(words, i) === value) {
    if (Date.now() > end) throw new Error(`word ${i} stayed ${value} for ${timeout} ms`);
    wait(words, i, value, 50);
  }
}

/** Wait (sync, bounded) for the child's ready word, then say go. */
export function go(words: Int32Array): void {
  waitWhile(words, 1, 0);
  Atomics.store(words, 2, 1);
  wake(words, 2);
}

/** Async (bounded) wait for the child's ready word, then say go: the event loop keeps running. */
export async function goAsync(words: Int32Array, timeout = 20_000): Promise<void> {
  const end = Date.now() + timeout;
  while (Atomics.load(words, 1) === 0) {
    if (Date.now() > end) throw new Error(`the child was not ready in ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  Atomics.store(words, 2, 1);
  wake(words, 2);
}

import { spawnSync } from 'node:child_process';

const pkgDir = new URL('..', import.meta.url).pathname;

/** Run an ES module `code` in a fresh Node (it imports '@conc/shm' by name); its exit status, stdout, stderr, time. */
export function runModule(code: string, env: Record<string, string> = {}, timeout = 20_000) {
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: pkgDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr, ms: performance.now() - t };
}
