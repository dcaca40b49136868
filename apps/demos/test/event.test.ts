import { describe, expect, it } from 'vitest';
import { expectOrderedWithin, runDemo } from './run-demo.js';

describe('event demo', () => {
  it('every runner is ready before the start signal, and starts only after it', () => {
    const { lines } = runDemo('event');
    expect(lines).toHaveLength(11);
    const go = lines.indexOf('Все готовы: старт!');
    expect(go).toBe(3);
    expect(new Set(lines.slice(0, 3))).toEqual(new Set([1, 2, 3].map((n) => `Поток ${n} готов и ждёт сигнала`)));
    for (const n of [1, 2, 3]) {
      expect(lines.indexOf(`Поток ${n} стартовал`)).toBeGreaterThan(go);
      expectOrderedWithin(lines, `Поток ${n} стартовал`, `Поток ${n} финишировал`);
    }
    expect(lines[10]).toBe('Все потоки финишировали');
  }, 25_000);
});
