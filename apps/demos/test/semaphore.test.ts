import { describe, expect, it } from 'vitest';
import { expectOrderedWithin, runDemo } from './run-demo.js';

describe('semaphore demo', () => {
  it('five threads pass through a section that never holds more than two', () => {
    const { lines } = runDemo('semaphore');
    expect(lines).toHaveLength(16);
    for (const n of [1, 2, 3, 4, 5]) {
      expect(lines.filter((l) => l.startsWith(`Поток ${n} `))).toHaveLength(3);
      const entered = lines.find((l) => l.startsWith(`Поток ${n} вошёл`))!;
      const left = lines.find((l) => l.startsWith(`Поток ${n} вышел`))!;
      expectOrderedWithin(lines, `Поток ${n} ждёт места`, entered);
      expectOrderedWithin(lines, entered, left);
    }
    // A thread prints "вошёл" after taking a slot and "вышел" before giving it
    // back, so between those two lines it holds a slot: replaying the lines
    // counts slots held, which may never pass two.
    let held = 0;
    for (const line of lines.slice(0, -1)) {
      const m = /^Поток \d (ждёт места|вошёл \(внутри: (\d)\)|вышел \(внутри: (\d)\))$/.exec(line);
      expect(m, line).not.toBeNull();
      if (m![2] !== undefined) {
        held += 1;
        expect(Number(m![2])).toBeGreaterThanOrEqual(1);
        expect(Number(m![2])).toBeLessThanOrEqual(2);
      } else if (m![3] !== undefined) {
        held -= 1;
        expect(Number(m![3])).toBeLessThanOrEqual(1);
      }
      expect(held).toBeLessThanOrEqual(2);
    }
    expect(held).toBe(0);
    const last = /^Все потоки завершены; одновременно внутри было не больше (\d)$/.exec(lines[15]);
    expect(last, lines[15]).not.toBeNull();
    expect([1, 2]).toContain(Number(last![1]));
  }, 25_000);
});
