import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('multiprocessing demo', () => {
  it('two processes sleeping 2 s run in parallel and print the document lines', () => {
    const { lines, ms } = runDemo('multiprocessing');
    expect(lines).toHaveLength(5);
    expect(new Set(lines.slice(0, 2))).toEqual(new Set(['Задача 1 запущена', 'Задача 2 запущена']));
    expect(new Set(lines.slice(2, 4))).toEqual(new Set(['Задача 1 завершена', 'Задача 2 завершена']));
    expect(lines[4]).toBe('Все задачи завершены');
    expect(ms).toBeLessThan(3900); // sequential would be 4 s plus start-up
  }, 30_000);
});
