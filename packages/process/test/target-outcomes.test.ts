// What join reports for the odd ways a Process target can end, the same as a
// Thread's: a thrown value that is not an Error, and a promise that never settles.
import { Process } from '@conc/process';
import { Thread } from '@conc/thread';
import { describe, expect, it } from 'vitest';
import { finish, rejectionOf } from './helpers.js';

const thrownValues: [string, string][] = [
  ['Object.create(null)', '[Object: null prototype] {}'],
  ["'a string'", "'a string'"],
  ['42', '42'],
  ['undefined', 'undefined'],
  ["Symbol('s')", 'Symbol(s)'],
  ['{ toString() { throw new Error("no") } }', '{ toString: [Function: toString] }'],
];

function thrower(source: string): () => never {
  return new Function(`return function throwsValue() { throw ${source}; }`)();
}

describe('a Process target that throws a value that is not an Error', () => {
  it.each(thrownValues)(
    'throw %s: join rejects with an Error saying "a non-Error value was thrown", exitCode 1',
    async (source, shown) => {
      const p = new Process({ target: thrower(source) }).start();
      const e = await rejectionOf(p.join({ timeout: 20_000 }));
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe('Error');
      expect(e.message).toBe(`a non-Error value was thrown: ${shown}`);
      expect(p.exitCode).toBe(1);
    },
    25_000,
  );
});

describe('a Process target whose promise never settles', () => {
  it("is treated as a Thread's: join rejects saying the promise never settled (exitCode 1)", async () => {
    const p = new Process({ target: () => new Promise(() => {}), name: 'stuck' }).start();
    const e = await rejectionOf(p.join({ timeout: 20_000 }));
    expect(e.message).toMatch(/^Process stuck exited with code 1 before its target returned: /);
    expect(e.message).toContain("the target's promise never settled");
    expect(p.exitCode).toBe(1);
    // The same words as a Thread's.
    const t = new Thread({ target: () => new Promise(() => {}), name: 'stuck' }).start();
    const te = await rejectionOf(t.join({ timeout: 10_000 }));
    const why = (m: string) => m.slice(m.indexOf('before its target returned: '));
    expect(why(te.message)).toBe(why(e.message));
  }, 30_000);

  it('a promise that settles later is waited for: exitCode 0', async () => {
    const p = new Process({ target: () => new Promise((r) => setTimeout(r, 200)) }).start();
    await finish(p);
    expect(p.exitCode).toBe(0);
  }, 25_000);
});
