// Condition across real threads: exact wake-up counts, no lost wake-ups over
// 100 000 hand-offs, sync and async waits (in workers and on the main thread),
// misuse from a thread that does not hold the lock, and sharing in args.
import { Condition, Lock, type RLock } from '@conc/condition';
import { describe, expect, it } from 'vitest';
import { finish, pause, sharedInts, spawn, targets, until } from './helpers';

type WaiterResult = { got: boolean; owned: boolean };

describe.each([
  ['sync', 'RLock', () => new Condition()],
  ['async', 'Lock', () => new Condition(new Lock())],
] as const)('%s waits in worker threads (%s)', (mode, _, make) => {
  it('notify(2) with five waiting threads wakes exactly two; notifyAll wakes the other three', async () => {
    const cond = make();
    const counts = sharedInts(2);
    const threads = Array.from({ length: 5 }, () => spawn('waiter', [cond, counts, mode, 20_000]));
    await until(() => Atomics.load(counts, 0), 5, 15_000);
    // the fifth waiter incremented under the lock and releases it only by waiting:
    // once we hold the lock, all five are waiting
    expect(await cond.acquire({ timeout: 10_000 })).toBe(true);
    cond.notify(2);
    cond.release();
    await until(() => Atomics.load(counts, 1), 2, 10_000);
    await pause(200); // long enough for a third wake-up to show, were there one
    expect(Atomics.load(counts, 1)).toBe(2);
    cond.acquireSync({ timeout: 10_000 });
    cond.notifyAll();
    cond.release();
    const results = await Promise.all(threads.map((t) => finish<WaiterResult>(t)));
    expect(results).toEqual(Array(5).fill({ got: true, owned: true }));
    expect(Atomics.load(counts, 1)).toBe(5);
    expect(cond.lock.locked).toBe(false);
    expect(String(cond)).toBe(`Condition(${cond.lock}, waiting=0)`);
  }, 30_000);
});

describe('no lost wake-up', () => {
  it('100 000 notify/wait rounds between two threads (ping-pong on a shared turn)', async () => {
    const cond = new Condition();
    const turn = sharedInts(2);
    const n = 50_000; // each player passes the turn n times: 100 000 hand-offs
    const players = [0, 1].map((me) => spawn('player', [cond, turn, me, n]));
    expect(await Promise.all(players.map((t) => finish<number>(t, 60_000)))).toEqual([n, n]);
    expect(turn[1]).toBe(2 * n);
    expect(turn[0]).toBe(0);
    expect(cond.counters.pending()).toBe(0); // every woken waiter came back for the lock
  }, 70_000);

  it('ping-pong over a plain Lock, async waits in both workers', async () => {
    const cond = new Condition(new Lock());
    const turn = sharedInts(2);
    const n = 5_000;
    const players = [0, 1].map((me) => spawn('player', [cond, turn, me, n, 'async']));
    expect(await Promise.all(players.map((t) => finish<number>(t, 60_000)))).toEqual([n, n]);
    expect(turn[1]).toBe(2 * n);
  }, 70_000);

  it('async waits on the main thread against a worker waiting sync', async () => {
    const cond = new Condition();
    const turn = sharedInts(2);
    const n = 5_000;
    const worker = spawn('player', [cond, turn, 1, n]);
    const { player } = await import(targets.href); // the same function the worker runs
    expect(await player(cond, turn, 0, n, 'async')).toBe(n);
    expect(await finish(worker, 60_000)).toBe(n);
    expect(turn[1]).toBe(2 * n);
  }, 70_000);
});

describe('main thread and workers together', () => {
  it('async waits on the main thread are woken by a worker that holds the lock', async () => {
    const cond = new Condition(new Lock());
    const flags = sharedInts(2);
    const waits = [0, 1, 2].map(async () => {
      await cond.acquire();
      try {
        return await cond.wait({ timeout: 15_000 });
      } finally {
        cond.release();
      }
    });
    await until(() => String(cond), 'Condition(Lock(unlocked), waiting=3)');
    const holder = spawn('holdThenNotifyAll', [cond, flags]);
    await until(() => Atomics.load(flags, 0), 1);
    // the worker holds the lock: our own acquire times out, our waiters stay put
    expect(await cond.acquire({ timeout: 30 })).toBe(false);
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    expect(await Promise.all(waits)).toEqual([true, true, true]);
    await finish(holder);
    expect(cond.lock.locked).toBe(false);
  }, 30_000);

  it('waitFor on the main thread sees every value a producer thread notifies', async () => {
    const cond = new Condition();
    const value = sharedInts(1);
    const producer = spawn('producer', [cond, value, 200]);
    await cond.acquire();
    try {
      expect(await cond.waitFor(() => value[0] >= 200 && value[0], { timeout: 20_000 })).toBe(200);
      expect((cond.lock as RLock).recursionLevel).toBe(1);
    } finally {
      cond.release();
    }
    expect(await finish(producer)).toBe(200);
  }, 30_000);

  it('a timed wait in a worker returns false with its RLock levels restored', async () => {
    const cond = new Condition();
    const result = await finish(spawn('timedWait', [cond, 40]));
    expect(result).toEqual({ got: false, level: 2, owned: true });
    expect(cond.lock.locked).toBe(false);
  }, 20_000);

  it('while the main thread holds an RLock, a worker cannot wait or notify: ConcRuntimeError', async () => {
    const cond = new Condition();
    cond.acquireSync();
    const out = await finish(spawn('misuse', [cond]));
    const msg = (what: string, verb: string) =>
      `ConcRuntimeError: Condition.${what}: cannot ${verb} on an un-acquired lock (acquire the condition or its lock first)`;
    expect(out).toEqual({
      notify: msg('notify', 'notify'),
      notifyAll: msg('notifyAll', 'notify'),
      waitSync: msg('waitSync', 'wait'),
      wait: msg('wait', 'wait'),
    });
    expect((cond.lock as RLock).recursionLevel).toBe(1);
    cond.release();
  }, 20_000);
});

describe('sharing', () => {
  it('arrives in a thread as a Condition over the same memory, bound to the same kind of lock', async () => {
    const a = new Condition();
    const b = new Condition(new Lock());
    a.acquireSync();
    b.acquireSync();
    const out = await finish(spawn('describeArgs', [{ list: [a, 'plain'], nested: { cond: b } }]));
    expect(out).toEqual({
      aIsCondition: true,
      aLockIsRLock: true,
      bIsCondition: true,
      bLockIsLock: true,
      bLockIsRLock: false,
      plain: 'plain',
      aTaken: false,
      bTaken: false,
    });
    a.release();
    b.release();
  }, 20_000);

  it('comes back from a thread as a Condition driving the same words', async () => {
    const cond = new Condition(new Lock());
    const back = await finish<Condition>(spawn('echo', [cond]));
    expect(back).toBeInstanceOf(Condition);
    expect(back).not.toBe(cond);
    expect(back.lock).toBeInstanceOf(Lock);
    back.acquireSync();
    expect(cond.lock.locked).toBe(true);
    expect(String(cond)).toBe('Condition(Lock(locked), waiting=0)');
    back.release();
  }, 20_000);
});
