import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const runner = fileURLToPath(new URL('../dist/run.js', import.meta.url));

/** Run one demo in its own process; return its stdout lines and wall time. */
export function runDemo(name: string, timeoutMs = 20_000): { lines: string[]; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [runner, name], { encoding: 'utf8', timeout: timeoutMs });
  const ms = performance.now() - started;
  expect(r.error, `demo ${name} did not finish`).toBeUndefined();
  expect(r.status, `demo ${name} failed:\n${r.stderr}`).toBe(0);
  return { lines: r.stdout.split('\n').filter((l) => l !== ''), ms };
}

/** Threads run concurrently: lines of different threads may interleave, but each thread's lines keep their order. */
export function expectOrderedWithin(lines: string[], before: string, after: string): void {
  expect(lines.indexOf(before)).toBeGreaterThanOrEqual(0);
  expect(lines.indexOf(after)).toBeGreaterThan(lines.indexOf(before));
}
