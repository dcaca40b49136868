// Condition on one thread: the lock's methods, timeouts, waitFor, the ticket
// queue (timed-out and aborted waiters), misuse and bad input. Async waits on
// one thread use a Condition over a Lock: each async task then truly
// excludes the others (an RLock is owned per thread, not per task).
import { ConcRuntimeError, Condition, Lock, RLock } from '@conc/condition';
import { TimeoutError } from '@conc/core';
import { describe, expect, it } from 'vitest';
import { pause, until } from './helpers';

/** Waiters counted by the ticket queue (TICKETS - SERVED - ghosts, as toString reports it: no word offsets). */
function waiting(cond: Condition): number {
  return Number(/waiting=(-?\d+)/.exec(String(cond))?.[1]);
}

/** Woken waiters not yet holding the lock again (the queue's PENDING): 0 once all are back. */
function pending(cond: Condition): number {
  return cond.counters.pending();
}

/** The ticket counter (internal): unchanged means nothing was enqueued. */
function tickets(cond: Condition): number {
  return cond.counters.tickets();
}

/** An async task on this thread: take the lock, wait once, release. Settles with the wait's result. */
function waitTask(cond: Condition, options?: { timeout?: number; signal?: AbortSignal }) {
  const task = {
    settled: false,
    promise: (async () => {
      await cond.acquire();
      try {
        return await cond.wait(options);
      } finally {
        cond.release();
      }
    })(),
  };
  task.promise.then(
    () => (task.settled = true),
    () => (task.settled = true),
  );
  return task;
}

/** Start waitTask and return once it is in the queue. */
async function enqueued(cond: Condition, options?: { timeout?: number; signal?: AbortSignal }) {
  const before = waiting(cond);
  const task = waitTask(cond, options);
  await until(() => waiting(cond), before + 1);
  return task;
}

function notifyLocked(cond: Condition, n = 1): void {
  cond.acquireSync();
  cond.notify(n);
  cond.release();
}

describe('Condition: construction and the lock methods', () => {
  it('defaults to a new RLock, as Python', () => {
    const cond = new Condition();
    expect(cond.lock).toBeInstanceOf(RLock);
    expect(new Condition().lock).not.toBe(cond.lock);
    expect(String(cond)).toBe('Condition(RLock(unlocked), waiting=0)');
  });

  it('binds the Lock or RLock it is given', () => {
    const lock = new Lock();
    const rlock = new RLock();
    expect(new Condition(lock).lock).toBe(lock);
    expect(new Condition(rlock).lock).toBe(rlock);
  });

  it.each([null, 42, 'lock', {}, { acquire() {}, release() {} }])(
    'rejects a lock that is not a Lock or RLock (%s) with TypeError',
    (bad) => {
      expect(() => new Condition(bad as never)).toThrow(TypeError);
      expect(() => new Condition(bad as never)).toThrow(/Condition: lock must be a Lock or RLock/);
    },
  );

  it('acquire, acquireSync, tryAcquire and release act on the lock (Lock: not re-entrant)', async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    expect(cond.acquireSync()).toBe(true);
    expect(lock.locked).toBe(true);
    expect(cond.tryAcquire()).toBe(false);
    expect(cond.acquireSync({ timeout: 0 })).toBe(false);
    cond.release();
    expect(lock.locked).toBe(false);
    expect(await cond.acquire({ timeout: 10 })).toBe(true);
    expect(await cond.acquire({ timeout: 10 })).toBe(false);
    cond.release();
    expect(() => cond.release()).toThrow(ConcRuntimeError);
  });

  it('on an RLock they re-enter and count levels', async () => {
    const cond = new Condition();
    const lock = cond.lock as RLock;
    cond.acquireSync();
    expect(cond.tryAcquire()).toBe(true);
    expect(await cond.acquire()).toBe(true);
    expect(lock.recursionLevel).toBe(3);
    cond.release();
    cond.release();
    cond.release();
    expect(lock.locked).toBe(false);
  });

  it('guard, guardSync, withLock and withLockSync hold the lock (Acquirable)', async () => {
    const cond = new Condition(new Lock());
    const g = cond.guardSync();
    expect(cond.lock.locked).toBe(true);
    g[Symbol.dispose]();
    expect(cond.lock.locked).toBe(false);
    const ag = await cond.guard();
    expect(cond.lock.locked).toBe(true);
    ag.release();
    expect(cond.withLockSync(() => cond.lock.locked)).toBe(true);
    expect(await cond.withLock(async () => cond.lock.locked)).toBe(true);
    expect(cond.lock.locked).toBe(false);
    cond.acquireSync();
    expect(() => cond.guardSync({ timeout: 5 })).toThrow(TimeoutError);
    cond.release();
  });
});

describe('Condition: waiting on one thread', () => {
  it.each([
    ['RLock', () => new Condition()],
    ['Lock', () => new Condition(new Lock())],
  ])('waitSync and wait time out with false and hold the lock again (%s)', async (_, make) => {
    const cond = make();
    cond.acquireSync();
    expect(cond.waitSync({ timeout: 20 })).toBe(false);
    expect(cond.lock.locked).toBe(true);
    expect(cond.waitSync({ timeout: 0 })).toBe(false);
    expect(await cond.wait({ timeout: 20 })).toBe(false);
    expect(await cond.wait({ timeout: 0 })).toBe(false);
    expect(cond.lock.locked).toBe(true);
    expect(waiting(cond)).toBe(0);
    cond.release();
    expect(cond.lock.locked).toBe(false);
  });

  it('an RLock held three levels deep is released fully while waiting and restored to three', async () => {
    const cond = new Condition();
    const lock = cond.lock as RLock;
    cond.acquireSync();
    cond.acquireSync();
    cond.acquireSync();
    let seenFree = false;
    const timer = setTimeout(() => {
      seenFree = !lock.locked;
    }, 5);
    expect(await cond.wait({ timeout: 40 })).toBe(false);
    clearTimeout(timer);
    expect(seenFree).toBe(true);
    expect(lock.recursionLevel).toBe(3);
    expect(cond.waitSync({ timeout: 5 })).toBe(false);
    expect(lock.recursionLevel).toBe(3);
    for (let i = 0; i < 3; i++) cond.release();
    expect(lock.locked).toBe(false);
  });

  it('waitForSync and waitFor return the predicate’s last value', async () => {
    const cond = new Condition();
    cond.acquireSync();
    expect(cond.waitForSync(() => 'ready')).toBe('ready');
    expect(await cond.waitFor(() => 42)).toBe(42);
    expect(await cond.waitFor(async () => 'async ok')).toBe('async ok');
    let calls = 0;
    expect(
      cond.waitForSync(
        () => {
          calls++;
          return 0;
        },
        { timeout: 30 },
      ),
    ).toBe(0);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(await cond.waitFor(() => '', { timeout: 20 })).toBe('');
    expect(cond.waitForSync(() => null, { timeout: 0 })).toBe(null);
    expect((cond.lock as RLock).recursionLevel).toBe(1);
    cond.release();
  });

  it('waitFor is woken by notify and re-checks the predicate, holding the lock', async () => {
    const cond = new Condition(new Lock());
    let value = 0;
    const task = (async () => {
      await cond.acquire();
      try {
        return await cond.waitFor(() => value >= 3 && `value ${value}`, { timeout: 10_000 });
      } finally {
        cond.release();
      }
    })();
    for (let i = 1; i <= 3; i++) {
      await until(() => waiting(cond), 1);
      cond.acquireSync();
      value = i;
      cond.notify();
      cond.release();
    }
    expect(await task).toBe('value 3');
    expect(waiting(cond)).toBe(0);
  });

  it('notify with nobody waiting does nothing, and notify(0) is allowed', () => {
    const cond = new Condition();
    cond.acquireSync();
    cond.notify();
    cond.notify(0);
    cond.notify(5);
    cond.notify(Number.POSITIVE_INFINITY);
    cond.notifyAll();
    expect(cond.waitSync({ timeout: 0 })).toBe(false);
    cond.release();
  });
});

describe('Condition: the ticket queue on one thread (async tasks)', () => {
  it('notify(n) wakes at most n, oldest first; notifyAll the rest', async () => {
    const cond = new Condition(new Lock());
    const tasks = [];
    for (let i = 0; i < 5; i++) tasks.push(await enqueued(cond, { timeout: 10_000 }));
    notifyLocked(cond, 2);
    await Promise.all(tasks.slice(0, 2).map((t) => t.promise));
    await pause(50);
    expect(tasks.map((t) => t.settled)).toEqual([true, true, false, false, false]);
    expect(waiting(cond)).toBe(3);
    notifyLocked(cond, 1);
    expect(await tasks[2].promise).toBe(true);
    cond.acquireSync();
    cond.notifyAll();
    cond.release();
    expect(await Promise.all(tasks.map((t) => t.promise))).toEqual([true, true, true, true, true]);
    expect(waiting(cond)).toBe(0);
    expect(pending(cond)).toBe(0);
  });

  it('a waiter that timed out between others is skipped by notify: no wake-up is lost to it', async () => {
    const cond = new Condition(new Lock());
    const first = await enqueued(cond, { timeout: 10_000 });
    const middle = await enqueued(cond, { timeout: 60 });
    const last = await enqueued(cond, { timeout: 10_000 });
    expect(await middle.promise).toBe(false);
    expect(waiting(cond)).toBe(2);
    notifyLocked(cond, 1);
    expect(await first.promise).toBe(true);
    await pause(30);
    expect(last.settled).toBe(false);
    notifyLocked(cond, 1);
    expect(await last.promise).toBe(true);
    expect(waiting(cond)).toBe(0);
    expect(pending(cond)).toBe(0);
  });

  it('aborting waiters at the head, middle and tail keeps notify exact', async () => {
    const cond = new Condition(new Lock());
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const head = await enqueued(cond, { signal: controllers[0].signal });
    const a = await enqueued(cond, { timeout: 10_000 });
    const middle = await enqueued(cond, { signal: controllers[1].signal });
    const b = await enqueued(cond, { timeout: 10_000 });
    const tail = await enqueued(cond, { signal: controllers[2].signal });
    for (const [i, c] of controllers.entries()) c.abort(`reason ${i}`);
    await expect(head.promise).rejects.toBe('reason 0');
    await expect(middle.promise).rejects.toBe('reason 1');
    await expect(tail.promise).rejects.toBe('reason 2');
    expect(waiting(cond)).toBe(2);
    notifyLocked(cond, 1);
    expect(await a.promise).toBe(true);
    await pause(30);
    expect(b.settled).toBe(false);
    notifyLocked(cond, 1);
    expect(await b.promise).toBe(true);
    expect(cond.lock.locked).toBe(false);
    expect(pending(cond)).toBe(0);
  });

  it('an aborted wait rejects with the reason holding the lock again', async () => {
    const cond = new Condition();
    await cond.acquire();
    const ac = new AbortController();
    const reason = new Error('stop waiting');
    const p = cond.wait({ signal: ac.signal, timeout: 10_000 });
    setTimeout(() => ac.abort(reason), 20);
    await expect(p).rejects.toBe(reason);
    expect((cond.lock as RLock).isOwned()).toBe(true);
    expect(waiting(cond)).toBe(0);
    cond.release();
  });

  it('more than 32 waiters giving up mid-queue wake the live ones (spuriously) rather than strand them', async () => {
    const cond = new Condition(new Lock());
    const first = await enqueued(cond, { timeout: 10_000 });
    const controllers = Array.from({ length: 40 }, () => new AbortController());
    const quitters = [];
    for (const ac of controllers) quitters.push(await enqueued(cond, { signal: ac.signal }));
    const last = await enqueued(cond, { timeout: 10_000 });
    for (const ac of controllers) ac.abort('all quit');
    for (const q of quitters) await expect(q.promise).rejects.toBe('all quit');
    expect(await first.promise).toBe(true);
    expect(await last.promise).toBe(true);
    expect(waiting(cond)).toBe(0);
    // exact again afterwards
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await enqueued(cond, { timeout: 10_000 }));
    notifyLocked(cond, 1);
    expect(await tasks[0].promise).toBe(true);
    await pause(30);
    expect(tasks.map((t) => t.settled)).toEqual([true, false, false]);
    notifyLocked(cond, 2);
    expect(await Promise.all(tasks.map((t) => t.promise))).toEqual([true, true, true]);
    expect(pending(cond)).toBe(0);
  });
});

describe('Condition: misuse and bad input', () => {
  it.each([
    ['RLock', () => new Condition()],
    ['Lock', () => new Condition(new Lock())],
  ])('wait, waitFor and notify without the lock throw ConcRuntimeError (%s)', async (_, make) => {
    const cond = make();
    expect(() => cond.waitSync()).toThrow(ConcRuntimeError);
    expect(() => cond.waitSync({ timeout: 0 })).toThrow(/Condition\.waitSync: cannot wait on an un-acquired lock/);
    expect(() => cond.waitForSync(() => true)).toThrow(ConcRuntimeError);
    expect(() => cond.notify()).toThrow(/Condition\.notify: cannot notify on an un-acquired lock/);
    expect(() => cond.notifyAll()).toThrow(ConcRuntimeError);
    let p!: Promise<boolean>;
    expect(() => {
      p = cond.wait();
    }).not.toThrow();
    await expect(p).rejects.toThrow(ConcRuntimeError);
    await expect(cond.waitFor(() => true)).rejects.toThrow(/Condition\.waitFor: cannot wait/);
    expect(tickets(cond)).toBe(0);
    expect(cond.lock.locked).toBe(false);
  });

  it.each([-1, -0.5, Number.NaN, Number.NEGATIVE_INFINITY])(
    'timeout %s: RangeError at once, nothing changes',
    async (timeout) => {
      const cond = new Condition();
      cond.acquireSync();
      expect(() => cond.waitSync({ timeout })).toThrow(RangeError);
      expect(() => cond.waitSync({ timeout })).toThrow(/Condition\.waitSync: timeout/);
      expect(() => cond.waitForSync(() => false, { timeout })).toThrow(RangeError);
      let p!: Promise<boolean>;
      expect(() => {
        p = cond.wait({ timeout });
      }).not.toThrow();
      await expect(p).rejects.toThrow(RangeError);
      await expect(cond.waitFor(() => false, { timeout })).rejects.toThrow(/Condition\.waitFor: timeout/);
      expect(tickets(cond)).toBe(0);
      expect((cond.lock as RLock).recursionLevel).toBe(1);
      cond.release();
    },
  );

  it('bad timeouts are reported before a missing lock', () => {
    const cond = new Condition();
    expect(() => cond.waitSync({ timeout: -1 })).toThrow(RangeError);
  });

  it('an already-aborted signal rejects with its reason and changes nothing', async () => {
    const cond = new Condition();
    cond.acquireSync();
    const reason = new Error('aborted before');
    await expect(cond.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(cond.waitFor(() => false, { signal: AbortSignal.abort('r') })).rejects.toBe('r');
    expect(tickets(cond)).toBe(0);
    expect((cond.lock as RLock).recursionLevel).toBe(1);
    cond.release();
    expect(cond.lock.locked).toBe(false);
  });

  it('options and predicates of the wrong type are TypeErrors', async () => {
    const cond = new Condition();
    cond.acquireSync();
    expect(() => cond.waitSync(null as never)).toThrow(TypeError);
    await expect(cond.wait({ signal: 'no' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(() => cond.waitForSync('x' as never)).toThrow(/predicate must be a function/);
    await expect(cond.waitFor(undefined as never)).rejects.toThrow(TypeError);
    expect(tickets(cond)).toBe(0);
    cond.release();
  });

  it.each([-1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY])('notify(%s) throws RangeError', (n) => {
    const cond = new Condition();
    cond.acquireSync();
    expect(() => cond.notify(n)).toThrow(RangeError);
    expect(() => cond.notify(n)).toThrow(/Condition\.notify: n must be a non-negative integer/);
    cond.release();
  });

  it('notify("2") throws TypeError', () => {
    const cond = new Condition();
    cond.acquireSync();
    expect(() => cond.notify('2' as never)).toThrow(TypeError);
    cond.release();
  });
});
