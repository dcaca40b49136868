// A queue and a thread that dies in it (DESIGN.md, "Death"): a timeout is
// always honoured, even while another thread holds the queue's internal
// lock; a lock held by a thread that died is taken over, and the queue is
// left consistent (an item is fully there or not at all, counts match).
// Raw Workers (fixtures/worker.mjs) are terminate()d at random points of
// heavy putSync / getSync traffic of 4 MiB items.
import type { Worker } from 'node:worker_threads';
import { JoinableQueue, Queue, QueueEmpty, QueueFull } from '@conc/queue';
import { describe, expect, it } from 'vitest';
import { bigItem, idOfBig } from './fixtures/targets.mjs';
import { finish, pause, spawn, startWorker, untilAtLeast, within } from './helpers';

const MIB = 1 << 20;

/** Drain with getNowait: every item must be whole; returns their ids. */
function drainIds(q: Queue<unknown>): number[] {
  const ids: number[] = [];
  for (;;) {
    try {
      ids.push(idOfBig(q.getNowait()));
    } catch (error) {
      if (error instanceof QueueEmpty) return ids;
      throw error;
    }
  }
}

/** After the victims died: the queue works, exactly (three in, the same three out, then empty). */
function expectWorking(q: Queue<unknown>): void {
  expect(q.qsize()).toBe(0);
  for (const id of [-1, -3, -5]) q.putNowait(bigItem(id));
  expect(q.qsize()).toBe(3);
  expect([0, 1, 2].map(() => idOfBig(q.getNowait()))).toEqual([-1, -3, -5]);
  expect(() => q.getNowait()).toThrow(QueueEmpty);
  expect(q.qsize()).toBe(0);
}

/** Start victims, let them run 0-40 ms once all are under way, terminate them all. */
async function killMidTraffic(victims: Worker[], started: Int32Array): Promise<void> {
  try {
    await untilAtLeast(started, 0, victims.length, 15_000);
    await pause(Math.floor(Math.random() * 40));
  } finally {
    await Promise.all(victims.map((v) => v.terminate()));
  }
}

describe('a timeout is honoured while a live thread holds the internal lock', () => {
  it('put/putSync time out with QueueFull while the put lock is held; nothing changes; gets go on', async () => {
    const q = new Queue<string>();
    q.putNowait('a');
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const holder = spawn('holdInternalLock', [q, 'putters', flags]);
    try {
      await untilAtLeast(flags, 0, 1);
      await expect(within(q.put('b', { timeout: 300 }), 5_000, 'put')).rejects.toThrow(QueueFull);
      await expect(within(q.put('b', { timeout: 0 }), 5_000, 'put')).rejects.toThrow(QueueFull);
      expect(() => q.putSync('b', { timeout: 200 })).toThrow(QueueFull);
      expect(q.qsize()).toBe(1);
      expect(q.getNowait()).toBe('a');
    } finally {
      Atomics.store(flags, 1, 1);
      Atomics.notify(flags, 1);
    }
    await finish(holder);
    q.putNowait('c');
    expect(q.getNowait()).toBe('c');
    expect(q.qsize()).toBe(0);
  }, 20_000);

  it('get/getSync time out with QueueEmpty while the get lock is held; nothing is taken; puts go on', async () => {
    const q = new Queue<string>();
    q.putNowait('a');
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const holder = spawn('holdInternalLock', [q, 'getters', flags]);
    try {
      await untilAtLeast(flags, 0, 1);
      await expect(within(q.get({ timeout: 300 }), 5_000, 'get')).rejects.toThrow(QueueEmpty);
      expect(() => q.getSync({ timeout: 200 })).toThrow(QueueEmpty);
      q.putNowait('b');
      expect(q.qsize()).toBe(2);
    } finally {
      Atomics.store(flags, 1, 1);
      Atomics.notify(flags, 1);
    }
    await finish(holder);
    expect([q.getNowait(), q.getNowait()]).toEqual(['a', 'b']);
    expect(q.qsize()).toBe(0);
  }, 20_000);
});

describe('a thread that dies holding the shape table lock', () => {
  it('is taken over: a put that needs a new shape goes in and comes out whole', async () => {
    for (let round = 0; round < 3; round++) {
      const q = new Queue<unknown>();
      const flags = new Int32Array(new SharedArrayBuffer(8));
      const victim = startWorker('holdShapeLock', [q, flags]);
      await untilAtLeast(flags, 0, 1);
      await victim.terminate();
      // In a thread: without the takeover it would park on the lock for good (and this test fail, not block).
      expect(await finish(spawn('putNewShape', [q]), 10_000)).toEqual({ neverSeenBefore: 1, norThis: 'x' });
      q.putNowait({ neverSeenBefore: 2, norThis: 'y' }); // the shape is in the table now, and the lock free
      expect(q.getNowait()).toEqual({ neverSeenBefore: 2, norThis: 'y' });
    }
  }, 40_000);
});

describe('a thread terminated inside putSync / getSync of 4 MiB items', () => {
  it('12 rounds: afterwards put/get with a 300 ms timeout settle, and the queue is whole and works', async () => {
    for (let round = 0; round < 12; round++) {
      const q = new Queue<unknown>(0, { byteCapacity: 20 * MIB });
      const started = new Int32Array(new SharedArrayBuffer(4));
      await killMidTraffic([startWorker('churnBig', [q, started, 1_000_000 * round])], started);
      // A lock the victim died holding is taken over within the call's
      // timeout, and what its section left half done is finished or undone:
      // async calls here, or (odd rounds) putSync and getSync in a thread.
      let first: number;
      if (round % 2 === 0) {
        await within(q.put(bigItem(-7), { timeout: 300 }), 5_000, 'put');
        first = idOfBig(await within(q.get({ timeout: 300 }), 5_000, 'get'));
      } else {
        first = await finish<number>(spawn('putThenGetSync', [q, -7, 300]), 5_000);
      }
      // both locks have been through the calls above: qsize counts exactly the whole items left
      const left = q.qsize();
      const ids = [first, ...drainIds(q)];
      expect(ids.length).toBe(left + 1);
      expect(ids.filter((id) => id === -7)).toEqual([-7]);
      expect(new Set(ids).size).toBe(ids.length);
      expectWorking(q);
    }
  }, 40_000);

  it('JoinableQueue, 10 rounds of 2 producers killed mid-put: every reported put is got once, at most the in-flight one more; join returns', async () => {
    const N = 10_000;
    for (let round = 0; round < 10; round++) {
      const q = new JoinableQueue<unknown>(0, { byteCapacity: 20 * MIB });
      const started = new Int32Array(new SharedArrayBuffer(4));
      const put = new Int32Array(new SharedArrayBuffer(4 * 2 * N));
      const got = new Int32Array(2 * N);
      const take = (item: unknown) => {
        const id = idOfBig(item);
        if (id >= 0) got[id]++;
        q.taskDone();
        return id;
      };
      const victims = [0, 1].map((p) => startWorker('putForever', [q, put, started, p * N]));
      let dead = false;
      const killing = killMidTraffic(victims, started).then(() => (dead = true));
      for (;;) {
        try {
          take(await within(q.get({ timeout: 100 }), 5_000, 'get'));
        } catch (error) {
          if (!(error instanceof QueueEmpty)) throw error;
          if (dead) break;
        }
      }
      await killing;
      // The put lock may have been left held by a victim: a put must still go
      // through (publishing, first, a record the victim had written whole).
      await within(q.put(bigItem(-9), { timeout: 300 }), 5_000, 'put');
      const last = [take(q.getSync({ timeout: 300 }))];
      while (q.qsize() > 0) last.push(take(q.getNowait()));
      expect(last.filter((id) => id === -9)).toEqual([-9]);
      expect(last.length).toBeLessThanOrEqual(3);
      for (const p of [0, 1]) {
        const reported: number[] = [];
        const received: number[] = [];
        const twice: number[] = [];
        for (let id = p * N; id < (p + 1) * N; id++) {
          if (put[id] === 1) reported.push(id);
          if (got[id] > 0) received.push(id);
          if (got[id] > 1) twice.push(id);
        }
        expect(twice).toEqual([]);
        // puts are sequential: the reported ones are a prefix, and what was got is
        // that prefix, or that prefix and the one put that was under way
        expect(reported).toEqual(Array.from({ length: reported.length }, (_, i) => p * N + i));
        expect(received.slice(0, reported.length)).toEqual(reported);
        expect([reported.length, reported.length + 1]).toContain(received.length);
      }
      expect(q.qsize()).toBe(0);
      expect(q.unfinishedTasks).toBe(0);
      expect(await within(q.join({ timeout: 1_000 }), 5_000, 'join')).toBe(true);
      expectWorking(q);
    }
  }, 40_000);

  it('Queue, 10 rounds of 2 producers and 2 consumers killed mid-traffic: no item twice, none torn, at most one lost per consumer', async () => {
    const N = 10_000;
    for (let round = 0; round < 10; round++) {
      const q = new Queue<unknown>(0, { byteCapacity: 20 * MIB });
      const started = new Int32Array(new SharedArrayBuffer(4));
      const put = new Int32Array(new SharedArrayBuffer(4 * 2 * N));
      const got = new Int32Array(new SharedArrayBuffer(4 * 2 * N));
      const victims = [
        startWorker('putForever', [q, put, started, 0]),
        startWorker('putForever', [q, put, started, N]),
        startWorker('getForever', [q, got, started]),
        startWorker('getForever', [q, got, started]),
      ];
      await killMidTraffic(victims, started);
      await within(q.put(bigItem(-11), { timeout: 300 }), 5_000, 'put');
      const taken = [idOfBig(await within(q.get({ timeout: 300 }), 5_000, 'get')), ...drainIds(q)];
      expect(taken.filter((id) => id === -11)).toEqual([-11]);
      const times = Int32Array.from(got);
      for (const id of taken) if (id >= 0) times[id]++;
      let lost = 0;
      const twice: number[] = [];
      for (const p of [0, 1]) {
        let reported = 0;
        let received = 0;
        for (let id = p * N; id < (p + 1) * N; id++) {
          if (times[id] > 1) twice.push(id);
          if (put[id] === 1) reported++;
          if (times[id] === 1) received++;
          if (put[id] === 1 && times[id] === 0) lost++;
        }
        // the reported puts, less those lost, and at most the one put under way
        expect(received).toBeLessThanOrEqual(reported + 1);
      }
      expect(twice).toEqual([]);
      // a consumer killed after its get took an item, before it counted it: at most one each
      expect(lost).toBeLessThanOrEqual(2);
      expectWorking(q);
    }
  }, 40_000);
});
