// A Condition waiter that dies absorbs no notify (DESIGN.md, "Death"): a
// thread that ends inside wait (process.exit() during an async wait,
// worker.terminate() during waitSync, terminate() at random points of
// wait/notify traffic) leaves its ticket in the queue; notify(1) must still
// wake a live waiter, exactly one per notify.
import type { Worker } from 'node:worker_threads';
import { Condition, Lock, RLock } from '@conc/condition';
import { describe, expect, it } from 'vitest';
import { finish, pause, sharedInts, spawn, startWorker, until } from './helpers';

/** Tickets in the queue (TICKETS - SERVED - ghosts, as toString reports it: no word offsets). */
function waiting(cond: Condition): number {
  return Number(/waiting=(-?\d+)/.exec(String(cond))?.[1]);
}

/**
 * Two live waiter threads join the queue behind whatever is in it; then
 * notify(1) twice, `delay` ms after they are waiting: each notify wakes
 * exactly one of them (the first must not go to a dead ticket, and no
 * wake-up is passed on twice), well within their 8 s timeout.
 */
async function eachNotifyWakesOneLiveWaiter(cond: Condition, mode: 'sync' | 'async', delay: number): Promise<void> {
  const counts = sharedInts(2);
  const live = [spawn('waiter', [cond, counts, mode, 8_000]), spawn('waiter', [cond, counts, mode, 8_000])];
  await until(() => Atomics.load(counts, 0), 2, 10_000);
  // the second waiter incremented under the lock and lets go of it only by waiting
  expect(await cond.acquire({ timeout: 10_000 })).toBe(true);
  cond.release();
  await pause(delay);
  expect(await cond.acquire({ timeout: 10_000 })).toBe(true);
  cond.notify(1);
  cond.release();
  await until(() => Atomics.load(counts, 1), 1, 5_000);
  await pause(200); // long enough for a second wake-up to show, were there one
  expect(Atomics.load(counts, 1)).toBe(1);
  expect(await cond.acquire({ timeout: 10_000 })).toBe(true);
  cond.notify(1);
  cond.release();
  const results = await Promise.all(live.map((t) => finish(t, 15_000)));
  expect(results).toEqual([
    { got: true, owned: true },
    { got: true, owned: true },
  ]);
}

describe.each([
  ['Lock', () => new Condition(new Lock()), 'async'],
  ['RLock', () => new Condition(new RLock()), 'sync'],
] as const)('a waiter that died absorbs no notify (Condition over a %s)', (_, make, mode) => {
  it('a thread that calls process.exit() during await cond.wait(): notify(1) wakes a live waiter, one each', async () => {
    for (const delay of [0, 150]) {
      const cond = make();
      const flags = sharedInts(1);
      const dead = spawn('exitWhileWaiting', [cond, flags]);
      await expect(dead.join({ timeout: 10_000 })).rejects.toThrow(/exited with code 7/);
      expect(Atomics.load(flags, 0)).toBe(1);
      expect(waiting(cond)).toBe(1); // its ticket is still in the queue
      await eachNotifyWakesOneLiveWaiter(cond, mode, delay);
      expect(cond.lock.locked).toBe(false);
    }
  }, 30_000);

  it('a worker terminated while blocked in waitSync: notify(1) wakes a live waiter, one each', async () => {
    for (const delay of [0, 150]) {
      const cond = make();
      const flags = sharedInts(1);
      const victim = startWorker('blockInWaitSync', [cond, flags]);
      try {
        await until(() => Atomics.load(flags, 0), 1, 10_000);
        // it held the lock when it raised the flag: once we hold it, the victim waits
        expect(await cond.acquire({ timeout: 10_000 })).toBe(true);
        cond.release();
        await pause(30); // past its spin: parked
      } finally {
        await victim.terminate();
      }
      expect(waiting(cond)).toBe(1);
      await eachNotifyWakesOneLiveWaiter(cond, mode, delay);
    }
  }, 30_000);
});

describe('waiters terminated at random points of wait/notify traffic', () => {
  it('8 rounds of 3 workers killed mid-traffic: afterwards each notify(1) wakes exactly one live waiter', async () => {
    for (let round = 0; round < 8; round++) {
      // over a Lock: a victim killed while holding it leaves it held, and any
      // thread may release a Lock (a dead holder is not this test's subject)
      const cond = new Condition(new Lock());
      const started = sharedInts(1);
      const victims: Worker[] = [0, 1, 2].map(() => startWorker('churn', [cond, started]));
      try {
        await until(() => Atomics.load(started, 0), 3, 10_000);
        await pause(Math.floor(Math.random() * 30));
      } finally {
        await Promise.all(victims.map((v) => v.terminate()));
      }
      if (cond.lock.locked) cond.lock.release();
      await eachNotifyWakesOneLiveWaiter(cond, round % 2 === 0 ? 'sync' : 'async', round % 4 < 2 ? 0 : 150);
    }
  }, 40_000);
});
