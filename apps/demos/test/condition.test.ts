import { describe, expect, it } from 'vitest';
import { expectOrderedWithin, runDemo } from './run-demo.js';

const put = /^Производитель: положил (\d+) \(в буфере (\d) из 4\)$/;
const took = /^Потребитель (А|Б): взял (\d+) \(в буфере (\d) из 4\)$/;

describe('condition demo', () => {
  it('a producer and two consumers pass 20 items through a 4-slot buffer, each exactly once', () => {
    const { lines } = runDemo('condition');
    expect(lines).toHaveLength(20 + 20 + 2 + 2);
    const puts = lines.filter((l) => put.test(l)).map((l) => l.match(put)!.slice(1).map(Number));
    const takes = lines.filter((l) => took.test(l)).map((l) => l.match(took)!.slice(1));
    // produced in order, never more than four in the buffer
    expect(puts.map(([item]) => item)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const [, count] of puts) expect(count).toBeGreaterThanOrEqual(1);
    // taken in the order produced (the lines are printed under the lock), each once
    expect(takes.map(([, item]) => Number(item))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const [, , count] of takes) expect(Number(count)).toBeLessThanOrEqual(3);
    // an item is taken only after it was put
    for (let i = 1; i <= 20; i++) {
      const putLine = lines.findIndex((l) => l.startsWith(`Производитель: положил ${i} `));
      const takeLine = lines.findIndex((l) => took.test(l) && l.match(took)![2] === String(i));
      expect(takeLine).toBeGreaterThan(putLine);
    }
    // each consumer reports how many it handled; together all 20
    const done = lines.filter((l) => /^Потребитель (А|Б): закончил, обработал \d+$/.test(l));
    expect(done).toHaveLength(2);
    const handled = done.map((l) => Number(l.split(' ').pop()));
    expect(handled[0] + handled[1]).toBe(20);
    for (const name of ['А', 'Б']) {
      const mine = takes.filter(([who]) => who === name).length;
      expect(done).toContain(`Потребитель ${name}: закончил, обработал ${mine}`);
      // A consumer may take nothing at all (the other one took every item: no
      // fairness is promised, and a loaded machine does that); then it has no
      // line to order.
      if (mine === 0) continue;
      expectOrderedWithin(
        lines,
        lines.find((l) => l.startsWith(`Потребитель ${name}: взял`)) as string,
        `Потребитель ${name}: закончил, обработал ${mine}`,
      );
    }
    expect(lines.slice(-2)).toEqual(['Обработано 20 из 20, сумма 210', 'Каждый элемент ровно один раз: да']);
  }, 25_000);
});
