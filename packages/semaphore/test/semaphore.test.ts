import { describe, expect, it } from 'vitest';
import { BoundedSemaphore, ConcRuntimeError, Semaphore, TimeoutError } from '@conc/semaphore';
import { beforeTimeout, finish, fixture, run, sharedInts, spawn, until, within } from './helpers';

/** The number of registered waiters (internal word 1 of the layout in semaphore.ts). */
function waiters(sem: Semaphore): number {
  return Atomics.load(sem.words, 1);
}

describe('Semaphore on one thread', () => {
  it('starts with value 1 by default; tryAcquire takes permits until none are left', () => {
    const sem = new Semaphore();
    expect(sem.value).toBe(1);
    expect(sem.tryAcquire()).toBe(true);
    expect(sem.value).toBe(0);
    expect(sem.tryAcquire()).toBe(false);
    expect(sem.value).toBe(0);
    sem.release();
    expect(sem.value).toBe(1);
    const three = new Semaphore(3);
    expect([three.tryAcquire(), three.tryAcquire(), three.tryAcquire(), three.tryAcquire()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(String(three)).toBe('Semaphore(value=0)');
  });

  it('acquireSync and acquire take available permits and report true', async () => {
    const sem = new Semaphore(4);
    expect(sem.acquireSync()).toBe(true);
    expect(await sem.acquire()).toBe(true);
    expect(sem.acquireSync({ timeout: Number.POSITIVE_INFINITY })).toBe(true);
    expect(await sem.acquire({ timeout: 0 })).toBe(true);
    expect(sem.value).toBe(0);
  });

  it('on an empty semaphore, waits time out with false and take nothing', async () => {
    const sem = new Semaphore(0);
    expect(sem.acquireSync({ timeout: 0 })).toBe(false);
    expect(sem.acquireSync({ timeout: 40 })).toBe(false);
    expect(await sem.acquire({ timeout: 0 })).toBe(false);
    expect(await sem.acquire({ timeout: 40 })).toBe(false);
    expect(sem.value).toBe(0);
    expect(waiters(sem)).toBe(0);
    sem.release();
    expect(sem.value).toBe(1);
  }, 5_000);

  it('release(n) gives n permits back; a plain Semaphore may go above its initial value (as Python)', () => {
    const sem = new Semaphore(1);
    sem.release(3);
    expect(sem.value).toBe(4);
    sem.release();
    expect(sem.value).toBe(5);
    expect(String(sem)).toBe('Semaphore(value=5)');
  });

  it('an async acquire waiting on the main thread is resolved by a later release', async () => {
    const sem = new Semaphore(0);
    const p = sem.acquire({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 20));
    expect(waiters(sem)).toBe(1);
    sem.release();
    expect(await within(p, 5_000, 'the woken acquire')).toBe(true);
    expect(sem.value).toBe(0);
    expect(waiters(sem)).toBe(0);
  }, 15_000);

  it('release(2) with three async waiters lets exactly two in; the third gets the next release', async () => {
    const sem = new Semaphore(0);
    const entered: number[] = [];
    const ps = [0, 1, 2].map((i) =>
      sem.acquire({ timeout: 20_000 }).then((got) => {
        if (got) entered.push(i);
        return got;
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
    sem.release(2);
    for (let i = 0; i < 500 && entered.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(entered).toHaveLength(2);
    expect(sem.value).toBe(0);
    sem.release();
    expect(await within(Promise.all(ps), 5_000, 'the woken acquires')).toEqual([true, true, true]);
    expect(new Set(entered)).toEqual(new Set([0, 1, 2]));
  }, 15_000);
});

describe('BoundedSemaphore', () => {
  it('refuses a release above its initial value, changing nothing', () => {
    const b = new BoundedSemaphore(2);
    expect(b.initialValue).toBe(2);
    expect(() => b.release()).toThrow(ConcRuntimeError);
    expect(() => b.release()).toThrow(/BoundedSemaphore\.release: released too many times/);
    expect(b.value).toBe(2);
    expect(b.tryAcquire()).toBe(true);
    expect(() => b.release(2)).toThrow(ConcRuntimeError);
    expect(b.value).toBe(1);
    b.release();
    expect(b.value).toBe(2);
    expect(String(b)).toBe('BoundedSemaphore(value=2/2)');
  });

  it('defaults to 1; BoundedSemaphore(0) refuses every release', () => {
    expect(new BoundedSemaphore().value).toBe(1);
    const zero = new BoundedSemaphore(0);
    expect(() => zero.release()).toThrow(ConcRuntimeError);
    expect(zero.value).toBe(0);
    expect(zero.acquireSync({ timeout: 0 })).toBe(false);
  });

  it('is a Semaphore (instanceof, as Python), a Semaphore is not a BoundedSemaphore', () => {
    const b = new BoundedSemaphore(1);
    const s = new Semaphore(1);
    expect(b).toBeInstanceOf(BoundedSemaphore);
    expect(b).toBeInstanceOf(Semaphore);
    expect(s).toBeInstanceOf(Semaphore);
    expect(s).not.toBeInstanceOf(BoundedSemaphore);
    class Mine extends Semaphore {}
    const m = new Mine(2);
    expect(m).toBeInstanceOf(Semaphore);
    expect(m).toBeInstanceOf(Mine);
    expect(s).not.toBeInstanceOf(Mine);
    expect(b).not.toBeInstanceOf(Mine);
  });
});

describe('Semaphore: bad input throws at once and changes nothing', () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('new Semaphore(%s) throws RangeError', (value) => {
    expect(() => new Semaphore(value)).toThrow(RangeError);
    expect(() => new BoundedSemaphore(value)).toThrow(RangeError);
    expect(() => new Semaphore(value)).toThrow(/Semaphore: initial value must be an integer from 0/);
  });

  it('a non-number initial value is a TypeError', () => {
    expect(() => new Semaphore('2' as never)).toThrow(TypeError);
    expect(() => new BoundedSemaphore(null as never)).toThrow(
      /BoundedSemaphore: initial value must be a number, got null/,
    );
  });

  it.each([0, -1, 1.5, Number.NaN])('release(%s) throws RangeError', (n) => {
    const sem = new Semaphore(0);
    const b = new BoundedSemaphore(3);
    b.acquireSync();
    expect(() => sem.release(n)).toThrow(RangeError);
    expect(() => sem.release(n)).toThrow(/Semaphore\.release: n must be an integer from 1/);
    expect(() => b.release(n)).toThrow(RangeError);
    expect(sem.value).toBe(0);
    expect(b.value).toBe(2);
  });

  it('release with a non-number n is a TypeError; a release past 2^31-1 is a RangeError', () => {
    const sem = new Semaphore(1);
    expect(() => sem.release('1' as never)).toThrow(TypeError);
    expect(() => sem.release(2 ** 31 - 1)).toThrow(/would exceed 2147483647/);
    expect(sem.value).toBe(1);
  });

  it.each([-1, -0.001, Number.NaN, Number.NEGATIVE_INFINITY])(
    'acquireSync({ timeout: %s }) throws RangeError',
    (timeout) => {
      const sem = new Semaphore(1);
      expect(() => sem.acquireSync({ timeout })).toThrow(/Semaphore\.acquireSync: timeout/);
      expect(() => sem.guardSync({ timeout })).toThrow(RangeError);
      expect(() => sem.withLockSync(() => 1, { timeout })).toThrow(RangeError);
      expect(() => new BoundedSemaphore().acquireSync({ timeout })).toThrow(/BoundedSemaphore\.acquireSync: timeout/);
      expect(sem.value).toBe(1);
    },
  );

  it.each([-1, Number.NaN])(
    'acquire({ timeout: %s }) returns a promise that rejects with RangeError',
    async (timeout) => {
      const sem = new Semaphore(1);
      let p!: Promise<boolean>;
      expect(() => {
        p = sem.acquire({ timeout });
      }).not.toThrow();
      await expect(p).rejects.toThrow(RangeError);
      await expect(sem.acquire({ timeout })).rejects.toThrow(/Semaphore\.acquire: timeout/);
      await expect(sem.guard({ timeout })).rejects.toThrow(RangeError);
      await expect(sem.withLock(() => 1, { timeout })).rejects.toThrow(RangeError);
      expect(sem.value).toBe(1);
    },
  );

  it('options that are not an object, or a signal that is not an AbortSignal, are TypeErrors', async () => {
    const sem = new Semaphore(1);
    expect(() => sem.acquireSync(null as never)).toThrow(TypeError);
    await expect(sem.acquire(42 as never)).rejects.toThrow(TypeError);
    await expect(sem.acquire({ signal: 'nope' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(sem.value).toBe(1);
  });
});

describe('Semaphore: abort', () => {
  it('an already-aborted signal rejects with its reason and takes nothing, even with permits free', async () => {
    const sem = new Semaphore(2);
    const reason = new Error('cancelled before');
    const signal = AbortSignal.abort(reason);
    await expect(sem.acquire({ signal })).rejects.toBe(reason);
    await expect(sem.guard({ signal })).rejects.toBe(reason);
    await expect(sem.withLock(() => 1, { signal })).rejects.toBe(reason);
    await expect(sem.acquire({ signal: AbortSignal.abort('a string') })).rejects.toBe('a string');
    expect(sem.value).toBe(2);
  });

  it('aborting while waiting rejects with the reason promptly and takes nothing', async () => {
    const sem = new Semaphore(0);
    const ac = new AbortController();
    const reason = new Error('cancelled while waiting');
    const p = sem.acquire({ signal: ac.signal, timeout: 20_000 });
    setTimeout(() => ac.abort(reason), 30);
    await expect(within(p, 5_000, 'the aborted acquire')).rejects.toBe(reason);
    expect(waiters(sem)).toBe(0);
    sem.release();
    expect(sem.value).toBe(1);
  }, 15_000);

  it('after aborted waiters, a release still reaches a live waiter in a worker and one on main', async () => {
    const sem = new Semaphore(0);
    const counter = sharedInts(1);
    const worker = spawn(fixture('enter'), [sem, counter, 25_000]);
    await until(sem.words, 1, 1); // the worker is registered as a waiter
    const controllers = Array.from({ length: 4 }, () => new AbortController());
    const aborted = controllers.map((ac) => sem.acquire({ signal: ac.signal, timeout: 20_000 }));
    const live = sem.acquire({ timeout: 20_000 });
    sem.release(); // to whichever waiter is woken first
    controllers.forEach((ac, i) => ac.abort(`reason ${i}`));
    for (let i = 0; i < aborted.length; i++) {
      await expect(within(aborted[i], 5_000, `aborted acquire ${i}`)).rejects.toBe(`reason ${i}`);
    }
    sem.release();
    expect(await within(live, 10_000, 'the live acquire')).toBe(true);
    expect(await finish(worker)).toBe(true);
    expect(counter[0]).toBe(1);
    expect(sem.value).toBe(0);
    expect(waiters(sem)).toBe(0);
  }, 30_000);
});

describe('Semaphore guard and callback forms', () => {
  it('guardSync takes one permit until disposed; disposing twice gives back one', () => {
    const sem = new Semaphore(2);
    const g = sem.guardSync();
    expect(sem.value).toBe(1);
    g[Symbol.dispose]();
    g.release();
    expect(sem.value).toBe(2);
  });

  it('guard / guardSync on an empty semaphore throw TimeoutError when the timeout passes', async () => {
    const sem = new Semaphore(0);
    expect(() => sem.guardSync({ timeout: 10 })).toThrow(TimeoutError);
    await expect(sem.guard({ timeout: 10 })).rejects.toThrow(/Semaphore: not acquired within 10 ms/);
    expect(sem.value).toBe(0);
  }, 5_000);

  it('withLock / withLockSync hold a permit while fn runs and give it back even when fn throws', async () => {
    const sem = new BoundedSemaphore(2);
    expect(sem.withLockSync(() => sem.value)).toBe(1);
    expect(await sem.withLock(async () => sem.value)).toBe(1);
    expect(() =>
      sem.withLockSync(() => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    await expect(sem.withLock(() => Promise.reject(new Error('rejected')))).rejects.toThrow('rejected');
    expect(sem.value).toBe(2);
  });
});

describe('Semaphore across threads', () => {
  it('Semaphore(1) as a mutex: 4 threads x 20 000 increments give exactly 80 000', async () => {
    const sem = new Semaphore(1);
    const counter = sharedInts(1);
    const threads = Array.from({ length: 4 }, () => spawn(fixture('increment'), [sem, counter, 20_000]));
    expect(await Promise.all(threads.map((t) => finish<number>(t, 25_000)))).toEqual([20_000, 20_000, 20_000, 20_000]);
    expect(counter[0]).toBe(80_000);
    expect(sem.value).toBe(1);
    expect(waiters(sem)).toBe(0);
  }, 30_000);

  it('Semaphore(1) as a mutex, mixed: sync, async and withLockSync workers and async waits on main count exactly', async () => {
    const sem = new Semaphore(1);
    const counter = sharedInts(1);
    const n = 3_000;
    const threads = [
      spawn(fixture('increment'), [sem, counter, n]),
      spawn(fixture('incrementAsync'), [sem, counter, n]),
      spawn(fixture('incrementWithLock'), [sem, counter, n]),
    ];
    for (let i = 0; i < n; i++) {
      expect(await sem.acquire({ timeout: 20_000 })).toBe(true);
      const v = counter[0];
      await null; // other async work runs while main holds the permit
      counter[0] = v + 1;
      sem.release();
    }
    await Promise.all(threads.map((t) => finish(t, 25_000)));
    expect(counter[0]).toBe(4 * n);
    expect(sem.value).toBe(1);
  }, 30_000);

  it.each(['sync', 'async'])(
    'Semaphore(2) never lets three of four %s threads in at once',
    async (mode) => {
      const sem = new Semaphore(2);
      const stats = sharedInts(3); // inside now, most ever inside, entries
      const rounds = 300;
      const threads = Array.from({ length: 4 }, () => spawn(fixture('occupy'), [sem, stats, rounds, mode]));
      await Promise.all(threads.map((t) => finish(t, 25_000)));
      expect(stats[2]).toBe(4 * rounds);
      expect(stats[0]).toBe(0);
      expect(stats[1]).toBeGreaterThanOrEqual(1);
      expect(stats[1]).toBeLessThanOrEqual(2);
      expect(sem.value).toBe(2);
    },
    30_000,
  );

  it('with both permits held by workers, a third waiter (worker, main sync, main async) times out, then gets in after a release', async () => {
    const sem = new Semaphore(2);
    const flags = sharedInts(2);
    const holders = [spawn(fixture('hold'), [sem, flags, 0]), spawn(fixture('hold'), [sem, flags, 1])];
    await until(flags, 0, 1);
    await until(flags, 1, 1);
    expect(sem.value).toBe(0);
    const counter = sharedInts(1);
    expect(await run(fixture('enter'), [sem, counter, 50])).toBe(false);
    expect(sem.acquireSync({ timeout: 30 })).toBe(false);
    expect(await sem.acquire({ timeout: 30 })).toBe(false);
    // main waits (async) while the workers hold; one of them lets go
    const p = sem.acquire({ timeout: 20_000 });
    Atomics.store(flags, 0, 2);
    Atomics.notify(flags, 0);
    expect(await within(p, 10_000, 'the acquire on main')).toBe(true);
    expect(await finish(holders[0])).toBe('released');
    // main blocks (sync) until the other lets go: told from a timer-free worker
    const releaser = spawn(
      (f: Int32Array) => {
        Atomics.wait(f, 0, 2, 50);
        Atomics.store(f, 1, 2);
        Atomics.notify(f, 1);
      },
      [flags],
    );
    expect(beforeTimeout(10_000, (timeout) => sem.acquireSync({ timeout }))).toBe(true);
    await finish(releaser);
    expect(await finish(holders[1])).toBe('released');
    expect(sem.value).toBe(0);
    sem.release(2);
    expect(sem.value).toBe(2);
  }, 30_000);

  it('release(2) from main wakes exactly two of three workers blocked in acquireSync; a third release wakes the last', async () => {
    const sem = new Semaphore(0);
    const counter = sharedInts(1);
    const threads = [0, 1, 2].map(() => spawn(fixture('enter'), [sem, counter, 25_000]));
    await until(sem.words, 1, 3); // all three registered as waiters
    sem.release(2);
    await until(counter, 0, 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(counter[0]).toBe(2);
    expect(sem.value).toBe(0);
    sem.release();
    expect(await Promise.all(threads.map((t) => finish(t)))).toEqual([true, true, true]);
    expect(counter[0]).toBe(3);
    expect(waiters(sem)).toBe(0);
  }, 30_000);

  it('20 000 ping-pong rounds between two threads lose no wake-up', async () => {
    const a = new Semaphore(0);
    const b = new Semaphore(0);
    const rounds = 20_000;
    const threads = [
      spawn(fixture('pingPong'), [a, b, rounds, true]),
      spawn(fixture('pingPong'), [b, a, rounds, false]),
    ];
    expect(await Promise.all(threads.map((t) => finish(t, 25_000)))).toEqual([rounds, rounds]);
    expect([a.value, b.value]).toEqual([0, 0]);
  }, 30_000);

  it('nested in args, Semaphore and BoundedSemaphore arrive as their classes over the same memory', async () => {
    const sem = new Semaphore(3);
    const bounded = new BoundedSemaphore(2);
    const result = await run(fixture('describeArgs'), [{ a: [sem, bounded, 'plain'], b: { c: bounded } }]);
    expect(result).toEqual({
      semIsSemaphore: true,
      semIsBounded: false,
      boundedIsBounded: true,
      boundedIsSemaphore: true,
      same: true,
      plain: 'plain',
      tookSem: true,
      tookBounded: true,
      values: [2, 1],
    });
    expect([sem.value, bounded.value]).toEqual([2, 1]);
  }, 15_000);

  it('a semaphore returned by a target comes back as its class over the same memory', async () => {
    const bounded = new BoundedSemaphore(1);
    const back = await run<{ x: BoundedSemaphore[] }>(fixture('echo'), [{ x: [bounded] }]);
    expect(back.x[0]).toBeInstanceOf(BoundedSemaphore);
    expect(back.x[0]).not.toBe(bounded);
    expect(back.x[0].tryAcquire()).toBe(true);
    expect(bounded.value).toBe(0);
    bounded.release();
    expect(() => back.x[0].release()).toThrow(ConcRuntimeError);
  }, 15_000);

  it('over-releasing a BoundedSemaphore in a worker throws ConcRuntimeError there, and join rejects with it', async () => {
    const bounded = new BoundedSemaphore(1);
    bounded.acquireSync();
    const t = spawn(fixture('overRelease'), [bounded, 2]);
    await expect(t.join({ timeout: 15_000 })).rejects.toMatchObject({
      name: 'ConcRuntimeError',
      message: expect.stringMatching(/released too many times/),
    });
    expect(bounded.value).toBe(1);
  }, 20_000);
});
