import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('shared-counter demo', () => {
  it('N processes x M increments under one Lock print the exact total N*M, on either memory backend', () => {
    const { lines } = runDemo('shared-counter', 60_000);
    const backend = /^memory backend: (shm|threads) /.exec(lines[0] ?? '');
    expect(backend, lines.join('\n')).not.toBeNull();
    const m = lines
      .map((l) => /^(\d+) processes x (\d+) increments under one Lock: total (\d+) \(expected (\d+)\)$/.exec(l))
      .find(Boolean);
    expect(m, lines.join('\n')).toBeTruthy();
    const [, procs, n, total] = m!.map(Number);
    expect(total).toBe(procs! * n!);
    // process.env.CONC_SHM=0 runs (CI's fallback pass) get the broker; else shared memory where @conc/shm loads
    if (process.env.CONC_SHM === '0') expect(backend![1]).toBe('threads');
    expect(lines.some((l) => l.startsWith('conc: '))).toBe(true);
  }, 90_000);
});
