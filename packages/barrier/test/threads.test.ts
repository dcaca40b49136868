// Barrier across real threads: indices per round, sync and async waits in
// workers and on the main thread, abort and timeouts seen by every thread,
// and sharing in args.
import { Barrier, BrokenBarrierError } from '@conc/barrier';
import { describe, expect, it } from 'vitest';
import { finish, spawn, until } from './helpers';

type Outcome = { index?: number; error?: string; message?: string; broken?: boolean };

/** For each round, the sorted indices the parties got. */
function rounds(perThread: number[][]): number[][] {
  return perThread[0].map((_, r) => perThread.map((indices) => indices[r]).sort((a, b) => a - b));
}

describe('Barrier(4) across four threads', () => {
  it('returns indices {0,1,2,3} in each of six rounds (waitSync in every thread)', async () => {
    const b = new Barrier(4);
    const threads = [0, 1, 2, 3].map(() => spawn('phases', [b, 6]));
    const got = await Promise.all(threads.map((t) => finish<number[]>(t)));
    expect(rounds(got)).toEqual(Array(6).fill([0, 1, 2, 3]));
    expect(b.nWaiting).toBe(0);
    expect(b.broken).toBe(false);
  }, 30_000);

  it('mixes sync and async waits in workers with async waits on the main thread', async () => {
    const b = new Barrier(4);
    const threads = [
      spawn('phases', [b, 6, 'sync']),
      spawn('phases', [b, 6, 'async']),
      spawn('phases', [b, 6, 'sync']),
    ];
    const mine: number[] = [];
    for (let r = 0; r < 6; r++) mine.push(await b.wait({ timeout: 15_000 }));
    const got = await Promise.all(threads.map((t) => finish<number[]>(t)));
    expect(rounds([...got, mine])).toEqual(Array(6).fill([0, 1, 2, 3]));
  }, 30_000);

  it('a main thread blocked in waitSync meets three workers', async () => {
    const b = new Barrier(4);
    const threads = [0, 1, 2].map(() => spawn('phases', [b, 3]));
    const mine = [b.waitSync({ timeout: 15_000 }), b.waitSync({ timeout: 15_000 }), b.waitSync({ timeout: 15_000 })];
    const got = await Promise.all(threads.map((t) => finish<number[]>(t)));
    expect(rounds([...got, mine])).toEqual(Array(3).fill([0, 1, 2, 3]));
  }, 30_000);

  it('500 rounds between the main thread (async) and a worker (sync) lose no one', async () => {
    const b = new Barrier(2);
    const worker = spawn('phases', [b, 500]);
    const mine: number[] = [];
    for (let r = 0; r < 500; r++) mine.push(await b.wait({ timeout: 15_000 }));
    const theirs = await finish<number[]>(worker);
    expect(rounds([mine, theirs])).toEqual(Array(500).fill([0, 1]));
  }, 30_000);
});

describe('breaking across threads', () => {
  it('abort() breaks every waiter: sync and async waits in workers, async on main', async () => {
    const b = new Barrier(5);
    const threads = [spawn('waitOnce', [b, 'sync']), spawn('waitOnce', [b, 'async']), spawn('waitOnce', [b, 'sync'])];
    const mine = b.wait({ timeout: 15_000 });
    await until(() => b.nWaiting, 4, 15_000);
    b.abort();
    await expect(mine).rejects.toThrow(BrokenBarrierError);
    const out = await Promise.all(threads.map((t) => finish<Outcome>(t)));
    for (const o of out) {
      expect(o.error).toBe('BrokenBarrierError');
      expect(o.broken).toBe(true);
    }
    expect(b.broken).toBe(true);
    b.reset();
    expect(b.broken).toBe(false);
    expect(b.nWaiting).toBe(0);
  }, 30_000);

  it('a worker whose wait times out breaks the barrier for a waiter on the main thread', async () => {
    const b = new Barrier(3);
    // Observe the rejection at once: it may come while we await the worker.
    const mine = b.wait({ timeout: 15_000 });
    mine.catch(() => {});
    const out = await finish<Outcome>(spawn('waitOnce', [b, 'sync', 50]));
    expect(out).toEqual({
      error: 'BrokenBarrierError',
      message: 'Barrier.waitSync: timed out; the barrier is now broken for every waiter',
      broken: true,
    });
    await expect(mine).rejects.toThrow(/the barrier is broken/);
    expect(b.broken).toBe(true);
  }, 20_000);

  it('the default timeout travels with the barrier into a thread', async () => {
    const b = new Barrier(2, { timeout: 30 });
    const out = await finish<Outcome>(spawn('waitOnce', [b, 'async']));
    expect(out.error).toBe('BrokenBarrierError');
    expect(out.message).toMatch(/Barrier\.wait: timed out/);
    expect(b.broken).toBe(true);
  }, 20_000);
});

describe('sharing', () => {
  it('arrives in a thread as a Barrier over the same memory, nested in args', async () => {
    const a = new Barrier(3, { timeout: 1_000 });
    const b = new Barrier(2);
    b.abort();
    const out = await finish(spawn('describeArgs', [{ list: [a, 'plain'], nested: { barrier: b } }]));
    expect(out).toEqual({
      aIsBarrier: true,
      aParties: 3,
      aTimeout: 1_000,
      bIsBarrier: true,
      bParties: 2,
      bBroken: true,
      plain: 'plain',
    });
  }, 20_000);

  it('comes back from a thread as a Barrier driving the same words', async () => {
    const b = new Barrier(2);
    const back = await finish<Barrier>(spawn('echo', [b]));
    expect(back).toBeInstanceOf(Barrier);
    expect(back).not.toBe(b);
    const p = b.wait({ timeout: 5_000 });
    expect(await back.wait({ timeout: 5_000 })).toBe(1);
    expect(await p).toBe(0);
  }, 20_000);
});
