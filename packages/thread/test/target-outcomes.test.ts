// What join reports for the odd ways a target can end: a thrown value that is
// not an Error, and a promise that never settles.
import { describe, expect, it } from 'vitest';
import { Thread } from '@conc/thread';
import { rejectionOf, thrownBy } from './helpers';

// Each thrown value, as the function target's source spells it, and how the message describes it.
const thrownValues: [string, string][] = [
  ['Object.create(null)', '[Object: null prototype] {}'],
  ["'a string'", "'a string'"],
  ['42', '42'],
  ['undefined', 'undefined'],
  ['null', 'null'],
  ["Symbol('s')", 'Symbol(s)'],
  ['{ code: 7, why: "x" }', "{ code: 7, why: 'x' }"],
  ['[1, 2]', '[ 1, 2 ]'],
  ['{ toString() { throw new Error("no") } }', '{ toString: [Function: toString] }'],
];

function thrower(source: string): () => never {
  // A function target is sent as its source text: build one that throws exactly `source`.
  return new Function(`return function throwsValue() { throw ${source}; }`)();
}

describe('a target that throws a value that is not an Error', () => {
  it.each(thrownValues)(
    'throw %s: join rejects with an Error saying "a non-Error value was thrown"',
    async (source, shown) => {
      const t = new Thread({ target: thrower(source) }).start();
      const e = await rejectionOf(t.join({ timeout: 10_000 }));
      expect(e).toBeInstanceOf(Error);
      expect(e.constructor).toBe(Error);
      expect(e.name).toBe('Error');
      expect(e.message).toBe(`a non-Error value was thrown: ${shown}`);
      expect(t.isAlive()).toBe(false);
    },
    15_000,
  );

  it('joinSync throws the same Error', () => {
    const t = new Thread({ target: thrower('Object.create(null)') }).start();
    const e = thrownBy(() => t.joinSync({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe('a non-Error value was thrown: [Object: null prototype] {}');
  }, 15_000);

  it('an async target that rejects with a non-Error value: the same', async () => {
    const t = new Thread({
      target: async () => {
        await new Promise((r) => setTimeout(r, 5));
        throw Object.create(null);
      },
    }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e.message).toBe('a non-Error value was thrown: [Object: null prototype] {}');
  }, 15_000);
});

describe('a target whose promise never settles', () => {
  it('ends the thread once its event loop has nothing left: join rejects saying the promise never settled', async () => {
    for (let round = 0; round < 3; round++) {
      const t = new Thread({ target: () => new Promise(() => {}), name: 'stuck' }).start();
      const e = await rejectionOf(t.join({ timeout: 10_000 }));
      expect(e).toBeInstanceOf(Error);
      expect(e.message).toMatch(/^Thread stuck exited with code 0 before its target returned: /);
      expect(e.message).toContain("the target's promise never settled");
      expect(t.isAlive()).toBe(false);
    }
  }, 30_000);

  it('joinSync throws the same', () => {
    const t = new Thread({ target: async () => new Promise(() => {}), name: 'stuck-sync' }).start();
    const e = thrownBy(() => t.joinSync({ timeout: 10_000 }));
    expect(e.message).toMatch(/^Thread stuck-sync exited with code 0 before its target returned: /);
    expect(e.message).toContain("the target's promise never settled");
  }, 15_000);

  it('a promise that settles later (a timer pending) is waited for, not refused', async () => {
    const t = new Thread({ target: () => new Promise((r) => setTimeout(() => r('late'), 200)) }).start();
    expect(await t.join({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe('late');
  }, 15_000);
});
