import { spawn } from 'node:child_process';
import { memoryBackend } from '@conc/core';
import type { Lock } from '@conc/lock';
import type { Process } from '@conc/process';
import { onTestFinished } from 'vitest';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url).href;

export async function finish(p: Process, timeout = 20_000): Promise<void> {
  if (!(await p.join({ timeout }))) {
    p.kill();
    throw new Error(`${p.name} did not end within ${timeout} ms`);
  }
}

export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

export function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function until(cond: () => boolean, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Run `node -e source` (ESM) with stdout captured line by line; killed when the test ends (if still running). */
export function runNode(source: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: new URL('.', import.meta.url).pathname,
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}

/** Whether this run uses the broker (the fallback, CONC_SHM=0) rather than shared memory (CI runs both). */
export function brokerMode(): boolean {
  return memoryBackend().name === 'threads';
}

/**
 * Wait until the death of a child that held `marker` (a Lock) has been dealt
 * with, and check the lock was abandoned. On the broker, the broker releases
 * a dead child's holdings, abandoned; on shared memory nobody releases
 * anything: the next acquirer takes the lock over (within ROBUST_CHECK_MS),
 * abandoned, and lets it go again.
 */
export async function deathSeen(marker: Lock, what: string): Promise<void> {
  if (brokerMode()) {
    await until(() => !marker.locked, 5000, what);
    if (!marker.abandoned) throw new Error(`${what}: the dead child's lock was not abandoned`);
    return;
  }
  if (!(await marker.acquire({ timeout: 5000 }))) throw new Error(`timed out: ${what}`);
  const abandoned = marker.abandoned;
  marker.release();
  if (!abandoned) throw new Error(`${what}: the dead child's lock was not abandoned`);
}
