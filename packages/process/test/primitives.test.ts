import { Barrier } from '@conc/barrier';
import { Condition } from '@conc/condition';
import { Event } from '@conc/event';
import { Process } from '@conc/process';
import { JoinableQueue, Queue } from '@conc/queue';
import { Lock } from '@conc/lock';
import { Semaphore } from '@conc/semaphore';
import { describe, expect, it } from 'vitest';
import { brokerMode, deathSeen, finish, targets, until } from './helpers.js';

const t = (e: string) => ({ module: targets, export: e });

describe('Queue across processes', () => {
  it('2 producer and 2 consumer processes: the multiset of items is exact', async () => {
    const q = new Queue();
    const results = new Queue();
    const n = 5000;
    const producers = [0, 1].map((i) => new Process({ target: t('produce'), args: [q, i * n, n] }).start());
    const consumers = [
      new Process({ target: t('consume'), args: [q, results] }).start(),
      new Process({ target: t('consumeSync'), args: [q, results] }).start(),
    ];
    for (const p of producers) await finish(p);
    await q.put(null);
    await q.put(null);
    for (const p of consumers) await finish(p);
    const got = [
      ...((await results.get({ timeout: 5000 })) as number[]),
      ...((await results.get({ timeout: 5000 })) as number[]),
    ];
    expect(got.length).toBe(2 * n);
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 2 * n }, (_, i) => i));
    expect(q.qsize()).toBe(0);
  }, 60_000);

  it('a parent busy in a CPU loop does not stall two children exchanging 10 000 items through its queues', async () => {
    const a = new Queue();
    const b = new Queue();
    const n = 10_000;
    const producer = new Process({ target: t('produce'), args: [a, 0, n] }).start();
    const relay = new Process({ target: t('relay'), args: [a, b, n] }).start();
    // Busy for 2 s without yielding: the broker thread serves the children meanwhile.
    const end = Date.now() + 2000;
    let spins = 0;
    while (Date.now() < end) spins++;
    expect(spins).toBeGreaterThan(0);
    // This thread never yielded: items in b prove the broker thread served both children meanwhile.
    expect(b.qsize()).toBeGreaterThan(0);
    await finish(producer);
    await finish(relay);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (await b.get({ timeout: 5000 })) as number;
    expect(sum).toBe((n * (n - 1)) / 2 + n);
  }, 60_000);

  it('concurrent async gets in a child: served in order; a timeout and an abort leave the line, taking nothing', async () => {
    const q = new Queue<number>();
    const out = new Queue<any>();
    const n = 300;
    const p = new Process({ target: t('concurrentGets'), args: [q, out, n] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('ready');
    for (let i = 0; i < n; i++) {
      await q.put(i);
      if (i % 25 === 0) await new Promise((r) => setTimeout(r, 2)); // items trickle in
    }
    const r = await out.get({ timeout: 20_000 });
    expect(r.outcomes).toEqual(['QueueEmpty', 'aborted']);
    // The broker serves one thread's gets in call order; on shared memory the
    // child runs a thread's code, where concurrent gets of one thread race for
    // each item as gets of different threads do (Python promises no order
    // among waiting getters either): every item exactly once.
    if (brokerMode()) expect(r.got).toEqual(Array.from({ length: n }, (_, i) => i));
    else expect([...r.got].sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    await finish(p);
    expect(q.qsize()).toBe(0);
  }, 30_000);

  it("a child's own Thread puts: every item is in the queue when the child's join returns", async () => {
    const q = new Queue<number>();
    const n = 5000;
    const p = new Process({ target: t('putFromThread'), args: [q, n] }).start();
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(q.qsize()).toBe(n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += q.getNowait();
    expect(sum).toBe((n * (n - 1)) / 2);
  }, 30_000);

  it('an async get aborted in a child while the item is on its way: the item goes back to the queue', async () => {
    const q = new Queue<string>();
    const out = new Queue<string>();
    const done = new Event();
    const p = new Process({ target: t('abortWhileAnswered'), args: [q, out, done] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('busy');
    // The child's putSync('busy') is answered right after it reached us: give
    // that answer time to arrive before the item (the child spins 1.5 s).
    await new Promise((r) => setTimeout(r, 400));
    q.putNowait('item'); // taken by the owner for the child's fetch, answered while the child is busy
    expect(await out.get({ timeout: 20_000 })).toBe('aborted');
    // While the child lives on: the item is back, not held in the child's buffer.
    await until(() => q.qsize() === 1, 3000, 'the item back in the queue');
    done.set();
    await finish(p);
    expect(q.getNowait()).toBe('item');
    expect(q.qsize()).toBe(0);
  }, 30_000);

  it('two consumer threads of one child: each gives back only its own untaken items; a Thread that ends gives back its rest', async () => {
    const q = new Queue<number>();
    const out = new Queue<any>();
    const done = new Event();
    for (let i = 0; i < 100; i++) q.putNowait(i);
    const p = new Process({ target: t('twoConsumerThreads'), args: [q, out, done] }).start();
    const r = await out.get({ timeout: 20_000 });
    expect([r.main.length, r.thread.length]).toEqual([1, 2]);
    // While the child lives on: everything it did not take is back.
    await until(() => q.qsize() === 97, 3000, 'the untaken items back in the queue');
    done.set();
    await finish(p);
    const rest: number[] = [];
    while (q.qsize() > 0) rest.push(q.getNowait());
    const all = [...r.main, ...r.thread, ...rest].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i)); // nothing lost, nothing twice
  }, 30_000);

  it('an async get and a getSync of one child thread fetching at once: each item once, the untaken one back', async () => {
    const q = new Queue<string>();
    const out = new Queue<any>();
    const done = new Event();
    const p = new Process({ target: t('asyncThenSyncGet'), args: [q, out, done] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('ready');
    // the queue's count of parked getters (queue/src/side.ts), by name, not by word offset
    await until(() => (q as any).getters.sleepers() >= 2, 10_000, 'both fetches waiting at the owner');
    q.putNowait('a1'); // answers the first fetch alone
    await new Promise((r) => setTimeout(r, 100));
    q.putNowait('b1'); // the second fetch brings both
    q.putNowait('b2');
    const r = await out.get({ timeout: 20_000 });
    await until(() => q.qsize() === 1, 3000, 'the untaken item back');
    done.set();
    await finish(p);
    expect([r.sync, r.async, q.getNowait()].sort()).toEqual(['a1', 'b1', 'b2']);
  }, 30_000);

  it('a queue shut down (not immediately) while a child holds fetched items: its given-back items are still drained', async () => {
    const q = new Queue<number>();
    const out = new Queue<any>();
    for (let i = 0; i < 10; i++) q.putNowait(i);
    const p = new Process({ target: t('slowDrain'), args: [q, out] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('took one');
    q.shutdown(); // Python 3.13: gets drain what is left, then raise ShutDown
    expect(await out.get({ timeout: 20_000 })).toEqual({
      got: Array.from({ length: 10 }, (_, i) => i),
      end: 'QueueShutDown',
    });
    await finish(p);
    expect(q.qsize()).toBe(0);
  }, 30_000);

  it('a child SIGKILLed after taking an item, or blocked in getSync: the taken item is not delivered again, no other is lost', async () => {
    const q = new Queue<number>();
    const empty = new Queue<string>();
    const out = new Queue<any>();
    for (let i = 0; i < 10; i++) q.putNowait(i);
    const holder = new Process({ target: t('takeOneThenDie'), args: [q, out] }).start();
    const blocked = new Process({ target: t('blockInGet'), args: [empty, out] }).start();
    expect([await out.get({ timeout: 20_000 }), await out.get({ timeout: 20_000 })].sort()).toEqual([0, 'blocking']);
    await finish(holder);
    expect(holder.exitCode).toBe(-9);
    // Nothing was fetched ahead: the other 9 never left the queue, and the one it took does not come back.
    expect(q.qsize()).toBe(9);
    await new Promise((r) => setTimeout(r, 400)); // past the broker's clean-up after it
    expect(Array.from({ length: q.qsize() }, () => q.getNowait())).toEqual(Array.from({ length: 9 }, (_, i) => i + 1));
    blocked.kill();
    empty.putNowait('after'); // the dead child's pending get is aborted, or gives the item back
    await finish(blocked);
    await until(() => empty.qsize() === 1, 3000, 'the item put after the death still in the queue');
    expect(empty.getNowait()).toBe('after');
  }, 30_000);

  it('JoinableQueue: taskDone from a child lets the parent join', async () => {
    const q = new JoinableQueue(0, { byteCapacity: 4096 });
    for (let i = 0; i < 10; i++) q.putNowait(i);
    const p = new Process({
      target: async (q: JoinableQueue) => {
        if (q.maxsize !== 0 || q.byteCapacity !== 4096)
          throw new Error(`maxsize ${q.maxsize}, byteCapacity ${q.byteCapacity}`);
        for (let i = 0; i < 10; i++) {
          await q.get();
          q.taskDone();
        }
      },
      args: [q],
    }).start();
    expect(await q.join({ timeout: 20_000 })).toBe(true);
    await finish(p);
  }, 30_000);
});

describe('Event, Semaphore, Condition across processes', () => {
  it('an Event set in the parent wakes waiters in two children', async () => {
    const ev = new Event();
    const log = new Queue();
    const ps = ['a', 'b'].map((name) => new Process({ target: t('waitEvent'), args: [ev, log, name] }).start());
    const seen = [await log.get({ timeout: 20_000 }), await log.get({ timeout: 20_000 })];
    expect(seen.sort()).toEqual(['a waiting', 'b waiting']);
    await new Promise((r) => setTimeout(r, 200));
    ev.set();
    const woke = [await log.get({ timeout: 10_000 }), await log.get({ timeout: 10_000 })];
    expect(woke.sort()).toEqual(['a woke true', 'b woke true']);
    for (const p of ps) await finish(p);
  }, 30_000);

  it('instanceof holds, Sync methods work in the child, the permits a dead child took stay taken', async () => {
    const sem = new Semaphore(2);
    const cond = new Condition();
    const marker = new Lock();
    const p = new Process({
      target: (sem: any, cond: any, marker: any) => {
        const { Semaphore } = require('@conc/semaphore');
        const { Condition } = require('@conc/condition');
        const { RLock } = require('@conc/lock');
        if (!(sem instanceof Semaphore) || !(cond instanceof Condition) || !(cond.lock instanceof RLock)) {
          throw new Error('instanceof failed');
        }
        if (!sem.acquireSync({ timeout: 1000 })) throw new Error('no permit');
        cond.acquireSync();
        cond.notifyAll();
        const ok = cond.waitSync({ timeout: 50 });
        cond.release();
        if (ok !== false) throw new Error('waitSync should time out');
        marker.acquireSync();
        process.kill(process.pid, 'SIGKILL'); // dies holding one permit (and the marker)
      },
      args: [sem, cond, marker],
    }).start();
    await finish(p);
    expect(p.exitCode).toBe(-9);
    await deathSeen(marker, "the broker's clean-up after the dead child");
    expect(sem.value).toBe(1); // permits are not owned: the one it took stays taken (Python's semantics)
    expect(cond.lock.locked).toBe(false);
  }, 30_000);

  it('a Barrier(3) across the parent and two children: arrival indices {0, 1, 2}', async () => {
    const barrier = new Barrier(3);
    const out = new Queue();
    const a = new Process({ target: t('barrierWait'), args: [barrier, out, 'a', true] }).start();
    const b = new Process({ target: t('barrierWait'), args: [barrier, out, 'b', false] }).start();
    const mine = await barrier.wait({ timeout: 20_000 });
    const theirs = [await out.get({ timeout: 10_000 }), await out.get({ timeout: 10_000 })] as {
      name: string;
      index: number;
    }[];
    expect(theirs.map((r) => r.name).sort()).toEqual(['a', 'b']);
    expect([mine, ...theirs.map((r) => r.index)].sort()).toEqual([0, 1, 2]);
    expect(barrier.broken).toBe(false);
    for (const p of [a, b]) await finish(p);
  }, 30_000);

  it("Sync methods block a child's main thread until the parent acts: acquireSync, getSync, Event and Condition waitSync", async () => {
    const lock = new Lock();
    const q = new Queue();
    const ev = new Event();
    const cond = new Condition();
    const out = new Queue();
    lock.acquireSync();
    const p = new Process({ target: t('syncMethods'), args: [lock, q, ev, cond, out] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('started');
    lock.release();
    await q.put('item');
    ev.set();
    expect(await out.get({ timeout: 20_000 })).toEqual({
      acquired: true,
      item: 'item',
      set: true,
      empty: 'QueueEmpty',
      condAcquired: true,
      notified: false,
      heldAfterWait: true,
    });
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(lock.locked).toBe(false);
    expect(cond.lock.locked).toBe(false);
  }, 30_000);
});
