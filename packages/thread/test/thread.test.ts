import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConcRuntimeError, Thread } from '@conc/thread';
import { Box } from './fixtures/box.mjs';
import { finish, sharedInts, targets } from './helpers';

describe('start and join', () => {
  it('runs a function target with its args; join resolves true and result holds the return value', async () => {
    const t = new Thread({ target: (a: number, b: number) => a + b, args: [2, 3] });
    expect(t.result).toBeUndefined();
    expect(t.start()).toBe(t);
    expect(await t.join({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe(5);
    // joining again is fine and changes nothing
    expect(await t.join({ timeout: 10_000 })).toBe(true);
    expect(t.joinSync({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe(5);
  }, 15_000);

  it('awaits an async target: result is the resolved value', async () => {
    const t = new Thread({
      target: async (x: number) => {
        await new Promise((r) => setTimeout(r, 30));
        return { doubled: x * 2 };
      },
      args: [21],
    }).start();
    expect(await finish(t)).toEqual({ doubled: 42 });
  }, 15_000);

  it('a target with no args and no return value: join true, result undefined', async () => {
    const t = new Thread({ target: () => {} }).start();
    expect(await t.join({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBeUndefined();
  }, 15_000);

  it('joinSync blocks until the end and gets the result', () => {
    const t = new Thread({
      target: (ms: number) => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        return 'slept';
      },
      args: [50],
    }).start();
    expect(t.joinSync({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe('slept');
    expect(t.isAlive()).toBe(false);
  }, 15_000);

  it('joinSync gets an async target’s awaited value too', () => {
    const t = new Thread({ target: async () => Promise.resolve([1, { two: 2 }]) }).start();
    expect(t.joinSync({ timeout: 10_000 })).toBe(true);
    expect(t.result).toEqual([1, { two: 2 }]);
  }, 15_000);

  it('args and results cross by structured clone (nested, Map, Date, typed arrays, null, undefined)', async () => {
    const arg = {
      list: [1, [2, [3]]],
      map: new Map([['k', new Set([1])]]),
      when: new Date(5),
      bytes: new Uint8Array([9]),
      none: null,
      undef: undefined,
    };
    const t = new Thread({
      target: (x: unknown) => ({ back: x, kind: Object.prototype.toString.call((x as any).map) }),
      args: [arg],
    }).start();
    expect(await finish(t)).toEqual({ back: arg, kind: '[object Map]' });
  }, 15_000);

  it('a SharedArrayBuffer in args is shared memory, not a copy', async () => {
    const words = sharedInts(2);
    words[0] = 7;
    const t = new Thread({
      target: (w: Int32Array) => {
        Atomics.store(w, 1, Atomics.load(w, 0) * 6);
      },
      args: [words],
    }).start();
    await finish(t);
    expect(words[1]).toBe(42);
  }, 15_000);

  it('a function target can require node modules', async () => {
    const t = new Thread({ target: () => require('node:path').posix.join('a', 'b') }).start();
    expect(await finish(t)).toBe('a/b');
  }, 15_000);

  it('method-shorthand functions (sync and async) work as targets', async () => {
    const obj = {
      triple(x: number) {
        return x * 3;
      },
      async quadruple(x: number) {
        return x * 4;
      },
    };
    const a = new Thread({ target: obj.triple, args: [3] }).start();
    const b = new Thread({ target: obj.quadruple, args: [3] }).start();
    expect(await finish(a)).toBe(9);
    expect(await finish(b)).toBe(12);
  }, 15_000);
});

describe('module targets', () => {
  it('runs a named export, given a URL', async () => {
    const t = new Thread({ target: { module: targets, export: 'add' }, args: [40, 2] }).start();
    expect(await finish(t)).toBe(42);
  }, 15_000);

  it('runs the default export when no export is named', async () => {
    const t = new Thread({ target: { module: targets }, args: [21] }).start();
    expect(await finish(t)).toBe(42);
  }, 15_000);

  it('accepts a file URL string and an absolute path', async () => {
    const a = new Thread({ target: { module: targets.href, export: 'add' }, args: ['a', 'b'] }).start();
    const b = new Thread({ target: { module: fileURLToPath(targets), export: 'add' }, args: [1, 1] }).start();
    expect(await finish(a)).toBe('ab');
    expect(await finish(b)).toBe(2);
  }, 15_000);

  it('awaits an async export', async () => {
    const t = new Thread({ target: { module: targets, export: 'slowConcat' }, args: ['x', 'y', 20] }).start();
    expect(await finish(t)).toBe('xy');
  }, 15_000);

  it('loads a CommonJS module target', async () => {
    const t = new Thread({
      target: { module: new URL('./fixtures/targets.cjs', import.meta.url), export: 'triple' },
      args: [5],
    }).start();
    expect(await finish(t)).toBe(15);
  }, 15_000);
});

describe('shareable primitives in args and results', () => {
  it('a registered primitive nested in args arrives as its class, over the same memory', async () => {
    const box = new Box();
    box.add(10);
    const t = new Thread({
      target: { module: targets, export: 'inspectBoxes' },
      args: [{ list: ['first', { box }] }],
    }).start();
    expect(await finish(t)).toEqual({ isBox: true, value: 15, other: 'first' });
    expect(box.value).toBe(15);
  }, 15_000);

  it('a primitive in the return value comes back as its class (join and joinSync)', async () => {
    const a = new Thread({ target: { module: targets, export: 'makeBox' }, args: [3] }).start();
    const made = (await finish<{ made: Box[] }>(a)).made[0];
    expect(made).toBeInstanceOf(Box);
    expect(made.value).toBe(3);
    const b = new Thread({ target: { module: targets, export: 'makeBox' }, args: [4] }).start();
    expect(b.joinSync({ timeout: 10_000 })).toBe(true);
    const madeSync = (b.result as { made: Box[] }).made[0];
    expect(madeSync).toBeInstanceOf(Box);
    expect(madeSync.value).toBe(4);
  }, 15_000);
});

describe('liveness, timeouts, identity', () => {
  const sleeper = (ms: number) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return 'woke';
  };

  it('isAlive is false before start, true while running, false after', async () => {
    const flags = sharedInts(1);
    const t = new Thread({
      target: (f: Int32Array) => {
        Atomics.wait(f, 0, 0, 10_000); // until told to finish
        return Atomics.load(f, 0);
      },
      args: [flags],
    });
    expect(t.isAlive()).toBe(false);
    t.start();
    expect(t.isAlive()).toBe(true);
    expect(await t.join({ timeout: 30 })).toBe(false);
    expect(t.isAlive()).toBe(true);
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    expect(await finish(t)).toBe(1);
    expect(t.isAlive()).toBe(false);
  }, 15_000);

  it('join({ timeout: 50 }) on a sleeping thread resolves false, then later true', async () => {
    const t = new Thread({ target: sleeper, args: [400] }).start();
    const t0 = performance.now();
    expect(await t.join({ timeout: 50 })).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(t.isAlive()).toBe(true);
    expect(t.result).toBeUndefined();
    expect(await t.join({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe('woke');
  }, 15_000);

  it('joinSync({ timeout: 50 }) on a sleeping thread returns false, then later true', () => {
    const t = new Thread({ target: sleeper, args: [400] }).start();
    expect(t.joinSync({ timeout: 50 })).toBe(false);
    expect(t.isAlive()).toBe(true);
    expect(t.joinSync({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe('woke');
  }, 15_000);

  it('join with a signal: an aborted join rejects with the reason; the thread runs on', async () => {
    const t = new Thread({ target: sleeper, args: [200] }).start();
    const reason = new Error('stop joining');
    await expect(t.join({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const ac = new AbortController();
    const p = t.join({ signal: ac.signal });
    setTimeout(() => ac.abort(reason), 20);
    await expect(p).rejects.toBe(reason);
    expect(t.isAlive()).toBe(true);
    expect(await finish(t)).toBe('woke');
  }, 15_000);

  it('threadId is undefined before start, then the worker’s id, distinct per thread, kept after the end', async () => {
    const a = new Thread({ target: () => require('node:worker_threads').threadId });
    expect(a.threadId).toBeUndefined();
    a.start();
    const b = new Thread({ target: () => require('node:worker_threads').threadId }).start();
    const idA = a.threadId;
    const idB = b.threadId;
    expect(Number.isInteger(idA)).toBe(true);
    expect(idA).toBeGreaterThan(0);
    expect(idB).not.toBe(idA);
    // the id the target saw is the same, and it stays after the thread has ended
    expect(await finish(a)).toBe(idA);
    expect(await finish(b)).toBe(idB);
    expect(a.threadId).toBe(idA);
    expect(b.threadId).toBe(idB);
  }, 15_000);
});

describe('names and daemon', () => {
  it('name defaults to `Thread-N (targetName)` with N counting up', () => {
    function worker() {}
    const a = new Thread({ target: worker });
    const b = new Thread({ target: worker });
    const m = /^Thread-(\d+) \(worker\)$/.exec(a.name);
    expect(m).not.toBeNull();
    expect(b.name).toBe(`Thread-${Number(m![1]) + 1} (worker)`);
  });

  it('an anonymous target gives `Thread-N`; a module target is named by its export', () => {
    const anon = new Thread({
      target: (
        () => () =>
          1
      )(),
    });
    expect(anon.name).toMatch(/^Thread-\d+$/);
    expect(new Thread({ target: { module: targets, export: 'add' } }).name).toMatch(/^Thread-\d+ \(add\)$/);
    expect(new Thread({ target: { module: targets } }).name).toMatch(/^Thread-\d+ \(default\)$/);
  });

  it('a given name is kept, and reaches toString', async () => {
    const t = new Thread({ target: () => 1, name: 'worker-A' });
    expect(t.name).toBe('worker-A');
    expect(String(t)).toBe('<Thread(worker-A, initial)>');
    t.start();
    expect(String(t)).toBe('<Thread(worker-A, started)>');
    await finish(t);
    expect(String(t)).toBe('<Thread(worker-A, stopped)>');
  }, 15_000);

  it('daemon defaults to false, can be set before start, not after', async () => {
    const t = new Thread({ target: () => 1 });
    expect(t.daemon).toBe(false);
    t.daemon = true;
    expect(t.daemon).toBe(true);
    expect(String(t)).toBe(`<Thread(${t.name}, initial daemon)>`);
    expect(new Thread({ target: () => 1, daemon: true }).daemon).toBe(true);
    t.start();
    expect(() => {
      t.daemon = false;
    }).toThrow(ConcRuntimeError);
    expect(t.daemon).toBe(true);
    expect(await finish(t)).toBe(1);
  }, 15_000);
});

describe('parallelism', () => {
  it('two threads run at the same time (a hand-off that needs both alive at once)', async () => {
    // each thread waits for the other's signal: this only completes if both run concurrently
    const flags = sharedInts(2);
    const body = (f: Int32Array, me: number) => {
      const other = 1 - me;
      Atomics.store(f, me, 1);
      Atomics.notify(f, me);
      return Atomics.wait(f, other, 0, 10_000) !== 'timed-out' || Atomics.load(f, other) === 1;
    };
    const a = new Thread({ target: body, args: [flags, 0] }).start();
    const b = new Thread({ target: body, args: [flags, 1] }).start();
    expect(await Promise.all([finish(a), finish(b)])).toEqual([true, true]);
  }, 30_000);

  it('two threads sleeping 300 ms each sleep at the same time', async () => {
    const target = (ms: number) => {
      const start = performance.timeOrigin + performance.now();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      return [start, performance.timeOrigin + performance.now()];
    };
    const t0 = performance.now();
    const threads = [new Thread({ target, args: [300] }).start(), new Thread({ target, args: [300] }).start()];
    const [[s1, e1], [s2, e2]] = await Promise.all(threads.map((t) => finish<number[]>(t)));
    const elapsed = performance.now() - t0;
    // the two sleeps overlap in time
    expect(Math.max(s1, s2)).toBeLessThan(Math.min(e1, e2));
    // and all of it took far less than two sleeps back to back plus start-up
    expect(elapsed).toBeLessThan(1_500);
  }, 15_000);

  it('a function target compiled by esbuild with keepNames (it calls __name) still runs', async () => {
    // What tsx and tsup (keepNames) emit for a function with a nested arrow.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this string is the source of a function
    const target = new Function('n', 'const inner = __name(() => n * 2, "inner"); return `${inner.name}:${inner()}`;');
    const t = new Thread({ target: target as (n: number) => string, args: [21] }).start();
    expect(await t.join({ timeout: 10_000 })).toBe(true);
    expect(t.result).toBe('inner:42');
  }, 15_000);
});
