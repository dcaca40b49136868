import { describe, expect, it } from 'vitest';
import { ConcRuntimeError, Lock, RLock } from '@conc/lock';
import { Thread } from '@conc/thread';
import { finish, fixture, run, sharedInts, spawn, until, within } from './helpers';

/** Release once, then prove nothing else was held: a second release throws. */
function releaseOnlyHold(lock: Lock): void {
  lock.release();
  expect(lock.locked).toBe(false);
  expect(() => lock.release()).toThrow(ConcRuntimeError);
}

describe('Lock on one thread', () => {
  it('tryAcquire takes a free lock once', () => {
    const lock = new Lock();
    expect(lock.locked).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
    expect(lock.locked).toBe(true);
    expect(lock.tryAcquire()).toBe(false);
    expect(lock.locked).toBe(true);
    lock.release();
    expect(lock.locked).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
  });

  it('acquireSync and acquire take a free lock and report it', async () => {
    const lock = new Lock();
    expect(lock.acquireSync()).toBe(true);
    expect(lock.locked).toBe(true);
    lock.release();
    expect(await lock.acquire()).toBe(true);
    expect(lock.locked).toBe(true);
    lock.release();
    expect(lock.acquireSync({ timeout: Number.POSITIVE_INFINITY })).toBe(true);
    lock.release();
    expect(await lock.acquire({ timeout: 0 })).toBe(true);
    lock.release();
    expect(lock.locked).toBe(false);
  });

  it('is not re-entrant: a second acquire by the holder times out', async () => {
    const lock = new Lock();
    lock.acquireSync();
    expect(lock.acquireSync({ timeout: 0 })).toBe(false);
    expect(await lock.acquire({ timeout: 0 })).toBe(false);
    releaseOnlyHold(lock);
  });

  it('release of an unlocked Lock throws ConcRuntimeError and leaves it usable', () => {
    const lock = new Lock();
    expect(() => lock.release()).toThrow(ConcRuntimeError);
    expect(() => lock.release()).toThrow(/Lock\.release: release of an unlocked lock/);
    expect(lock.locked).toBe(false);
    lock.acquireSync();
    lock.release();
    expect(() => lock.release()).toThrow(ConcRuntimeError);
    expect(lock.tryAcquire()).toBe(true);
  });

  it('acquireSync({ timeout }) on a held lock returns false and holds nothing', () => {
    const lock = new Lock();
    lock.acquireSync();
    const t0 = performance.now();
    expect(lock.acquireSync({ timeout: 60 })).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    expect(lock.locked).toBe(true);
    releaseOnlyHold(lock);
    expect(lock.tryAcquire()).toBe(true);
  });

  it('acquire({ timeout }) on a held lock resolves false and holds nothing', async () => {
    const lock = new Lock();
    lock.acquireSync();
    expect(await lock.acquire({ timeout: 60 })).toBe(false);
    expect(lock.locked).toBe(true);
    releaseOnlyHold(lock);
    expect(await lock.acquire({ timeout: 60 })).toBe(true);
  }, 5_000);

  it('toString shows the state', () => {
    const lock = new Lock();
    expect(String(lock)).toBe('Lock(unlocked)');
    lock.acquireSync();
    expect(String(lock)).toBe('Lock(locked)');
  });
});

describe('Lock: bad input', () => {
  it.each([-1, -0.001, Number.NaN, Number.NEGATIVE_INFINITY])(
    'acquireSync({ timeout: %s }) throws RangeError synchronously',
    (timeout) => {
      const lock = new Lock();
      expect(() => lock.acquireSync({ timeout })).toThrow(RangeError);
      expect(() => lock.acquireSync({ timeout })).toThrow(/Lock\.acquireSync: timeout/);
      expect(() => lock.guardSync({ timeout })).toThrow(RangeError);
      expect(() => lock.withLockSync(() => 1, { timeout })).toThrow(RangeError);
      expect(lock.locked).toBe(false);
    },
  );

  it.each([-1, Number.NaN])(
    'acquire({ timeout: %s }) returns a promise that rejects with RangeError',
    async (timeout) => {
      const lock = new Lock();
      lock.acquireSync(); // even on a held lock: rejected at once, not after waiting
      let p!: Promise<boolean>;
      expect(() => {
        p = lock.acquire({ timeout });
      }).not.toThrow();
      expect(p).toBeInstanceOf(Promise);
      await expect(p).rejects.toThrow(RangeError);
      await expect(lock.acquire({ timeout })).rejects.toThrow(/Lock\.acquire: timeout/);
      await expect(lock.guard({ timeout })).rejects.toThrow(RangeError);
      await expect(lock.withLock(() => 1, { timeout })).rejects.toThrow(RangeError);
      releaseOnlyHold(lock);
    },
    5_000,
  );

  it('options that are not an object, or a signal that is not an AbortSignal, are TypeErrors', async () => {
    const lock = new Lock();
    expect(() => lock.acquireSync(null as never)).toThrow(TypeError);
    await expect(lock.acquire(42 as never)).rejects.toThrow(TypeError);
    await expect(lock.acquire({ signal: 'nope' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(lock.locked).toBe(false);
  });
});

describe('Lock: abort', () => {
  it('an already-aborted signal rejects with signal.reason and does not take a free lock', async () => {
    const lock = new Lock();
    const reason = new Error('cancelled before');
    const signal = AbortSignal.abort(reason);
    await expect(lock.acquire({ signal })).rejects.toBe(reason);
    expect(lock.locked).toBe(false);
    await expect(lock.guard({ signal })).rejects.toBe(reason);
    await expect(lock.withLock(() => 1, { signal })).rejects.toBe(reason);
    expect(lock.locked).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
  });

  it('any abort reason is passed through as is (not only Errors)', async () => {
    const lock = new Lock();
    await expect(lock.acquire({ signal: AbortSignal.abort('just a string') })).rejects.toBe('just a string');
    const def = AbortSignal.abort();
    await expect(lock.acquire({ signal: def })).rejects.toBe(def.reason);
    expect(lock.locked).toBe(false);
  });

  it('aborting while waiting rejects with the reason and holds nothing', async () => {
    const lock = new Lock();
    lock.acquireSync();
    const ac = new AbortController();
    const reason = new Error('cancelled while waiting');
    const p = lock.acquire({ signal: ac.signal, timeout: 20_000 });
    setTimeout(() => ac.abort(reason), 30);
    // the abort is noticed at once, not when the 20 s timeout runs out
    await expect(within(p, 5_000, 'the aborted acquire')).rejects.toBe(reason);
    expect(lock.locked).toBe(true);
    releaseOnlyHold(lock);
  }, 15_000);

  it('after aborted waiters, the lock still reaches every live waiter (no lost wake-ups)', async () => {
    const lock = new Lock();
    const flags = sharedInts(1);
    lock.acquireSync();
    // a worker blocked in acquireSync on the same word
    const worker = spawn(
      (l: Lock, f: Int32Array) => {
        Atomics.store(f, 0, 1);
        const got = l.acquireSync({ timeout: 20_000 });
        if (got) l.release();
        return got;
      },
      [lock, flags],
    );
    await until(flags, 0, 1);
    await until(lock.words, 0, 2); // the worker has announced itself as a waiter
    // async waiters on this thread, most of them aborted
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const aborted = controllers.map((ac) => lock.acquire({ signal: ac.signal, timeout: 20_000 }));
    const live = lock.acquire({ timeout: 20_000 });
    controllers.forEach((ac, i) => ac.abort(`reason ${i}`));
    for (let i = 0; i < aborted.length; i++) {
      await expect(within(aborted[i], 5_000, `aborted acquire ${i}`)).rejects.toBe(`reason ${i}`);
    }
    lock.release();
    // both the worker and the live async waiter get the lock, one after the other
    expect(await live).toBe(true);
    lock.release();
    expect(await finish(worker)).toBe(true);
    expect(lock.locked).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
  }, 30_000);
});

describe('Lock across threads', () => {
  it('4 threads x 50 000 increments under the Lock give exactly 200 000', async () => {
    const lock = new Lock();
    const counter = sharedInts(1);
    const threads = Array.from({ length: 4 }, () => spawn(fixture('increment'), [lock, counter, 50_000]));
    const done = await Promise.all(threads.map((t) => finish<number>(t, 25_000)));
    expect(done).toEqual([50_000, 50_000, 50_000, 50_000]);
    expect(counter[0]).toBe(200_000);
    expect(lock.locked).toBe(false);
  }, 30_000);

  it('sync and async acquirers in threads and on the main thread, mixed, count exactly', async () => {
    const lock = new Lock();
    const counter = sharedInts(1);
    const n = 5_000;
    const threads = [
      spawn(fixture('increment'), [lock, counter, n]),
      spawn(fixture('incrementAsync'), [lock, counter, n]),
      spawn(fixture('increment'), [lock, counter, n]),
      spawn(fixture('incrementAsync'), [lock, counter, n]),
    ];
    for (let i = 0; i < n; i++) {
      expect(await lock.acquire({ timeout: 20_000 })).toBe(true);
      const v = counter[0];
      await null; // let other async work run while holding the lock
      counter[0] = v + 1;
      lock.release();
    }
    await Promise.all(threads.map((t) => finish(t, 25_000)));
    expect(counter[0]).toBe(5 * n);
    expect(lock.locked).toBe(false);
  }, 30_000);

  it('a Lock acquired on the main thread can be released by a worker, then main acquires it', async () => {
    const lock = new Lock();
    expect(lock.acquireSync()).toBe(true);
    const result = await run(
      (l: Lock) => {
        const before = l.locked;
        l.release();
        return { before, after: l.locked };
      },
      [lock],
    );
    expect(result).toEqual({ before: true, after: false });
    expect(lock.locked).toBe(false);
    expect(lock.acquireSync({ timeout: 1_000 })).toBe(true);
    releaseOnlyHold(lock);
  }, 15_000);

  it('a worker timing out on a lock held by main gets false and holds nothing', async () => {
    const lock = new Lock();
    lock.acquireSync();
    const result = await run(
      async (l: Lock) => [l.tryAcquire(), l.acquireSync({ timeout: 50 }), await l.acquire({ timeout: 50 }), l.locked],
      [lock],
    );
    expect(result).toEqual([false, false, false, true]);
    expect(lock.locked).toBe(true);
    releaseOnlyHold(lock);
  }, 15_000);

  it('a main thread blocked in acquireSync is woken when a worker releases', async () => {
    const lock = new Lock();
    const flags = sharedInts(1);
    const t = spawn(
      (l: Lock, f: Int32Array) => {
        l.acquireSync();
        Atomics.store(f, 0, 1);
        Atomics.wait(f, 0, 1, 100); // hold it a little while main is blocked
        l.release();
        return 'released';
      },
      [lock, flags],
    );
    await until(flags, 0, 1);
    expect(lock.acquireSync({ timeout: 10_000 })).toBe(true);
    expect(await finish(t)).toBe('released');
    releaseOnlyHold(lock);
  }, 15_000);

  it('an async acquire on main is woken when a worker releases', async () => {
    const lock = new Lock();
    const flags = sharedInts(1);
    const t = spawn(
      (l: Lock, f: Int32Array) => {
        l.acquireSync();
        Atomics.store(f, 0, 1);
        Atomics.wait(f, 0, 1, 100);
        l.release();
      },
      [lock, flags],
    );
    await until(flags, 0, 1);
    expect(await lock.acquire({ timeout: 10_000 })).toBe(true);
    await finish(t);
    releaseOnlyHold(lock);
  }, 15_000);

  it('a Lock and an RLock nested in args arrive as instances of their classes over the same memory', async () => {
    const lock = new Lock();
    const rlock = new RLock();
    const result = await run(fixture('describeArgs'), [{ a: [lock, 'plain'], b: { c: rlock } }]);
    expect(result).toEqual({
      lockIsLock: true,
      lockIsRLock: false,
      rlockIsRLock: true,
      rlockIsLock: false,
      plain: 'plain',
      tookLock: true,
    });
    // the worker took the lock through its revived copy
    expect(lock.locked).toBe(true);
    releaseOnlyHold(lock);
  }, 15_000);

  it('primitives inside a Map and a Set in args arrive as their classes, over the same memory', async () => {
    const lock = new Lock();
    const rlock = new RLock();
    const target = (m: Map<string, Lock>, s: Set<RLock>) => {
      const l = m.get('lock') as Lock;
      const [r] = [...s];
      const took = l.tryAcquire();
      return [l.constructor.name, r.constructor.name, took, typeof r.isOwned];
    };
    const result = await run(target, [new Map([['lock', lock]]), new Set([rlock])]);
    expect(result).toEqual(['Lock', 'RLock', true, 'function']);
    expect(lock.locked).toBe(true);
    lock.release();
  }, 15_000);

  it('a function target also receives revived primitives (instanceof by brand)', async () => {
    const lock = new Lock();
    const result = await run(
      (x: { deep: [{ l: Lock }] }) => {
        const l = x.deep[0].l;
        return [typeof l.acquireSync, l.constructor.name, l.tryAcquire()];
      },
      [{ deep: [{ l: lock }] }],
    );
    expect(result).toEqual(['function', 'Lock', true]);
    expect(lock.locked).toBe(true);
  }, 15_000);

  it('a Lock returned by the target comes back as a Lock over the same memory', async () => {
    const lock = new Lock();
    const back = await run<{ x: Lock[] }>(fixture('echo'), [{ x: [lock] }]);
    expect(back.x[0]).toBeInstanceOf(Lock);
    expect(back.x[0]).not.toBe(lock);
    expect(back.x[0].tryAcquire()).toBe(true);
    expect(lock.locked).toBe(true);
    lock.release();
    expect(back.x[0].locked).toBe(false);
  }, 15_000);

  it('many threads can share many locks', async () => {
    const locks = Array.from({ length: 3 }, () => new Lock());
    const counters = sharedInts(3);
    const threads = Array.from({ length: 3 }, (_, i) =>
      new Thread({
        target: (ls: Lock[], c: Int32Array, n: number) => {
          for (let k = 0; k < n; k++) {
            for (let j = 0; j < ls.length; j++) {
              ls[j].acquireSync();
              c[j] = c[j] + 1;
              ls[j].release();
            }
          }
        },
        args: [locks, counters, 2_000 * (i + 1)],
      }).start(),
    );
    await Promise.all(threads.map((t) => finish(t)));
    expect(Array.from(counters)).toEqual([12_000, 12_000, 12_000]);
  }, 30_000);
});

describe('async and sync waiters on one thread', () => {
  for (const Kind of [Lock, RLock]) {
    it(`${Kind.name}: acquireSync is not stranded behind a pending acquire() of the same thread`, async () => {
      // The release's single wake-up used to go to the async waiter, whose
      // event loop is the one blocked in acquireSync: a deadlock on a free lock.
      const lock = new Kind();
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const holder = new Thread({
        target: (l: Lock | RLock, f: Int32Array) => {
          l.acquireSync();
          Atomics.store(f, 0, 1);
          Atomics.notify(f, 0);
          Atomics.wait(f, 0, 1, 200);
          l.release();
        },
        args: [lock, flag],
      }).start();
      while (Atomics.load(flag, 0) === 0) await new Promise((r) => setTimeout(r, 2));
      const pending = lock.acquire({ timeout: 20_000 });
      await new Promise((r) => setTimeout(r, 10)); // the async waiter parks first
      expect(lock.acquireSync({ timeout: 5_000 })).toBe(true);
      lock.release();
      expect(await pending).toBe(true);
      lock.release();
      expect(await holder.join({ timeout: 10_000 })).toBe(true);
      expect(lock.locked).toBe(false);
    }, 20_000);
  }
});
