import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('cpu-bound demo', () => {
  it('prints the counts, a table of the three ways, the no-GIL statement and the I/O contrast', () => {
    const { lines } = runDemo('cpu-bound', 60_000);
    expect(lines[0]).toMatch(/^CPU-bound: count the primes below/);
    expect(lines).toContain('Primes found: 664579');
    const rows = lines.filter((l) => /^\| .* s \| .*x \|$/.test(l));
    expect(rows.map((r) => r.split('|')[1].trim())).toEqual([
      'main thread',
      expect.stringMatching(/^\d+ threads$/),
      expect.stringMatching(/^\d+ processes$/),
      'one after another',
      'async, one thread',
      '8 threads',
    ]);
    expect(lines.some((l) => l.includes('no GIL'))).toBe(true);
    expect(lines.some((l) => l.startsWith('I/O-bound'))).toBe(true);
  }, 70_000);
});
