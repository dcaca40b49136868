import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('document examples', () => {
  it('threading: two threads sleeping 2 s run in parallel and print the document lines', () => {
    const { lines, ms } = runDemo('threading');
    expect(lines).toHaveLength(5);
    expect(new Set(lines.slice(0, 2))).toEqual(new Set(['Задача 1 запущена', 'Задача 2 запущена']));
    expect(new Set(lines.slice(2, 4))).toEqual(new Set(['Задача 1 завершена', 'Задача 2 завершена']));
    expect(lines[4]).toBe('Все задачи завершены');
    // Sequential would be 4 s; parallel is about 2 s plus process and worker start.
    expect(ms).toBeLessThan(3800);
  }, 25_000);

  it('lock: prints the final balance', () => {
    expect(runDemo('lock').lines).toEqual(['Баланс: 220']);
  }, 25_000);
});
