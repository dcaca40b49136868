import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('barrier demo', () => {
  it('three threads finish each phase before any starts the next; the result matches one thread', () => {
    const { lines } = runDemo('barrier');
    expect(lines).toHaveLength(4 * (3 + 1) + 1);
    const expected = ['600.0', '500.0', '433.3', '388.9'];
    for (let phase = 1; phase <= 4; phase++) {
      const block = lines.slice((phase - 1) * 4, phase * 4);
      // the three workers' lines of this phase, in any order, then the report of the thread with index 0
      expect(new Set(block.slice(0, 3))).toEqual(
        new Set([0, 1, 2].map((id) => `Поток ${id}: фаза ${phase} посчитана`)),
      );
      expect(block[3]).toBe(`Фаза ${phase}: все 3 потока у барьера, тепло слева ${expected[phase - 1]}, всего 900.0`);
    }
    expect(lines[16]).toBe('Результат совпадает с однопоточным: да');
  }, 25_000);
});
