// What a consumer, holder or waiter that dies leaves behind (DESIGN.md,
// "Death"), with real child processes killed by SIGKILL: finished work is
// never redone, only items a dead consumer had not taken go back, what is
// not taken counts as in the queue for everyone, permits are not owned, and
// a dead Condition waiter neither wedges nor breaks the lock.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Barrier } from '@conc/barrier';
import { Condition } from '@conc/condition';
import { Event } from '@conc/event';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { JoinableQueue, Queue } from '@conc/queue';
import { Semaphore } from '@conc/semaphore';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { deathSeen, finish, until } from './helpers.js';

const fixtures = new URL('./fixtures/integrity.mjs', import.meta.url).href;
const t = (e: string) => ({ module: fixtures, export: e });
const dir = mkdtempSync(join(tmpdir(), 'conc-integrity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Start a Process that is killed when the test ends, if it still runs. */
function start(target: string, args: unknown[]): Process {
  const p = new Process({ target: t(target), args }).start();
  onTestFinished(() => {
    if (p.isAlive()) p.kill();
  });
  return p;
}

/** Everything in a queue the parent owns, now. */
function drain<T>(q: Queue<T>): T[] {
  const out: T[] = [];
  while (q.qsize() > 0) out.push(q.getNowait());
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('a JoinableQueue consumer that dies', () => {
  it('after 3 answered taskDone() of 10 jobs: 7 left, none redone, join returns only when all are done', async () => {
    const q = new JoinableQueue<number | null>();
    const done = new Queue<number>();
    const marker = new Lock();
    for (let i = 0; i < 10; i++) q.putNowait(i);
    const a = start('joinableWorker', [q, done, 3, marker]);
    await finish(a);
    expect(a.exitCode).toBe(-9);
    await deathSeen(marker, "the broker's clean-up after the dead worker");
    expect(q.qsize()).toBe(7);
    expect(q.unfinishedTasks).toBe(7);
    expect(drain(done)).toEqual([0, 1, 2]);
    const b = start('joinableWorker', [q, done, 0]);
    expect(await q.join({ timeout: 30_000 })).toBe(true);
    expect(drain(done)).toEqual(range(3, 10)); // join returned with every job done, none twice
    q.putNowait(null);
    await finish(b);
    expect(b.exitCode).toBe(0); // its last taskDone() did not throw
    expect(q.qsize()).toBe(0);
    expect(q.unfinishedTasks).toBe(0);
  }, 60_000);

  it('3 workers x 2000 jobs, one SIGKILLed after an answered taskDone(): every job done exactly once, healthy workers exit 0', async () => {
    const n = 2000;
    for (const worker of ['joinableWorker', 'joinableWorkerAsync', 'joinableWorker']) {
      const q = new JoinableQueue<number | null>();
      const done = new Queue<number>();
      for (let i = 0; i < n; i++) q.putNowait(i);
      const dieAfter = 50 + Math.floor(Math.random() * 350);
      const a = start(worker, [q, done, dieAfter]);
      await until(() => done.qsize() >= 20, 20_000, 'the first worker under way');
      const healthy = [start(worker, [q, done, 0]), start(worker, [q, done, 0])];
      expect(await q.join({ timeout: 60_000 })).toBe(true);
      const finished = drain(done);
      expect(finished.length).toBe(n); // at join: all done ...
      expect(sorted(finished)).toEqual(range(0, n)); // ... each exactly once
      await finish(a);
      expect(a.exitCode).toBe(-9);
      for (let i = 0; i < 3; i++) q.putNowait(null); // one per worker; the dead one's stays
      for (const p of healthy) {
        await finish(p);
        expect(p.exitCode).toBe(0);
      }
      expect(q.qsize()).toBe(1);
      expect(done.qsize()).toBe(0);
    }
  }, 120_000);
});

describe('a plain Queue consumer that dies', () => {
  it('SIGKILLed while confirming each item before taking the next: no confirmed item comes back', async () => {
    const n = 400;
    for (let round = 0; round < 3; round++) {
      const q = new Queue<number | null>();
      const confirmA = new Queue<number>();
      const confirmB = new Queue<number>();
      const marker = new Lock();
      for (let i = 0; i < n; i++) q.putNowait(i);
      const a = start('confirmEach', [q, confirmA, marker, 0.5]);
      const at = 20 + Math.floor(Math.random() * 150);
      await until(() => confirmA.qsize() >= at, 20_000, 'the consumer under way');
      a.kill();
      await finish(a);
      await deathSeen(marker, "the broker's clean-up after the dead consumer");
      q.putNowait(null);
      const b = start('confirmEach', [q, confirmB]);
      await finish(b);
      const seen = [...drain(confirmA), ...drain(confirmB)];
      expect(new Set(seen).size).toBe(seen.length); // nothing twice
      // At most the item in the dead consumer's hand (taken, not confirmed) is missing.
      expect(seen.length).toBeGreaterThanOrEqual(n - 1);
      expect(q.qsize()).toBe(0);
    }
  }, 90_000);
});

describe('items a child has not taken count as in the queue for everyone', () => {
  it("right after a child's getNowait() took 1 of 2 items, the owner sees and takes the other", async () => {
    const q = new Queue<string>();
    const out = new Queue<string>();
    const done = new Event();
    q.putNowait('a');
    q.putNowait('b');
    const p = start('takeOneAndLive', [q, out, done]);
    expect(await out.get({ timeout: 20_000 })).toBe('a');
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe('b');
    done.set();
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(q.qsize()).toBe(0); // and nothing comes back when the child ends
  }, 30_000);

  it('three consumer processes on the classic Condition pattern: every token is taken, nobody starves', async () => {
    const cond = new Condition();
    const q = new Queue<number>();
    const out = new Queue<any>();
    const rounds = 4;
    const barrier = new Barrier(4);
    const ps = ['a', 'b', 'c'].map((name) => start('conditionConsumer', [cond, q, out, barrier, rounds, name]));
    for (let r = 0; r < rounds; r++) {
      await cond.acquire();
      for (let i = 0; i < 3; i++) q.putNowait(3 * r + i);
      cond.notifyAll();
      cond.release();
      const got = [];
      for (let i = 0; i < 3; i++) got.push(await out.get({ timeout: 5000 })); // QueueEmpty here: a consumer starved
      expect(got.map((g) => g.round)).toEqual([r, r, r]);
      expect(got.map((g) => g.name).sort()).toEqual(['a', 'b', 'c']);
      expect(sorted(got.map((g) => g.token))).toEqual([3 * r, 3 * r + 1, 3 * r + 2]);
      await barrier.wait({ timeout: 20_000 });
    }
    for (const p of ps) {
      await finish(p);
      expect(p.exitCode).toBe(0);
    }
    expect(q.qsize()).toBe(0);
  }, 60_000);

  it('a put that returned reaches the queue while the child spins without yielding', async () => {
    const q = new Queue<string>();
    const cases: [string, unknown[]][] = [
      ['putThenSpin', ['putSync']],
      ['putThenSpin', ['putNowait']],
      ['putThenSpin', ['put']],
      ['putThenSpinInThread', []],
    ];
    for (const [target, how] of cases) {
      const flag = join(dir, `flag${files++}`);
      const p = start(target, [q, ...how, flag]);
      await until(() => q.qsize() === 1, 10_000, `the item of ${target}(${how.join()}) in the queue`);
      expect(p.isAlive()).toBe(true); // still spinning
      writeFileSync(flag, '');
      await finish(p);
      expect(p.exitCode).toBe(0);
      expect(q.getNowait()).toBe('x');
      expect(q.qsize()).toBe(0);
    }
  }, 60_000);
});

describe('Semaphore permits are not owned', () => {
  it('permits a child took stay taken after it exits normally or is SIGKILLed', async () => {
    for (const kill of [false, true]) {
      const sem = new Semaphore(0);
      const marker = new Lock();
      const out = new Queue<unknown>();
      sem.release(3);
      const a = start('takePermits', [sem, 3, marker, out, kill]);
      expect(await out.get({ timeout: 20_000 })).toBe('took');
      await finish(a);
      expect(a.exitCode).toBe(kill ? -9 : 0);
      await deathSeen(marker, "the broker's clean-up after the child");
      expect(sem.value).toBe(0);
      const b = start('tryPermit', [sem, out]);
      expect(await out.get({ timeout: 20_000 })).toBe(false); // no permit nobody produced
      await finish(b);
      expect(sem.value).toBe(0);
    }
  }, 60_000);

  it('a child killed while blocked in acquire() takes nothing', async () => {
    const sem = new Semaphore(0);
    const out = new Queue<unknown>();
    const a = start('blockInAcquire', [sem, out]);
    expect(await out.get({ timeout: 20_000 })).toBe('blocking');
    a.kill();
    await finish(a);
    sem.release();
    // An acquire the broker still had pending for it gives back what it got.
    await until(() => sem.value === 1, 5000, 'the permit free');
    expect(sem.tryAcquire()).toBe(true);
  }, 30_000);
});

describe('a Condition waiter that dies', () => {
  it('Condition(RLock): killed while the parent holds the lock for long: the lock is free once the parent releases, not abandoned', async () => {
    const cond = new Condition();
    const marker = new Lock();
    const out = new Queue<string>();
    const a = start('waitOnCondition', [cond, marker, out]);
    expect(await out.get({ timeout: 20_000 })).toBe('waiting');
    expect(await cond.acquire({ timeout: 20_000 })).toBe(true); // the child is in wait()
    a.kill();
    await finish(a);
    await deathSeen(marker, "the broker's clean-up after the dead waiter");
    await new Promise((r) => setTimeout(r, 300)); // held for well over 250 ms
    cond.release();
    // Whoever gets the lock next (the dead waiter's aborted wait takes it back
    // on the way out, and must let go of it), another process gets it, unflagged.
    const third = new Queue<any>();
    const c = start('acquireAndReport', [cond, third]);
    expect(await third.get({ timeout: 20_000 })).toBe('acquiring');
    expect(await third.get({ timeout: 10_000 })).toEqual({ got: true, abandoned: false });
    await finish(c);
    await until(() => !cond.lock.locked, 5000, 'the lock free');
    expect(cond.tryAcquire()).toBe(true);
    expect(cond.lock.abandoned).toBe(false);
    cond.release();
  }, 30_000);

  it('Condition(Lock) with a third process blocked in acquire(): never two holders, and a waiter is not a holder', async () => {
    const cond = new Condition(new Lock());
    const marker = new Lock();
    const out = new Queue<string>();
    const third = new Queue<any>();
    const a = start('waitOnCondition', [cond, marker, out]);
    expect(await out.get({ timeout: 20_000 })).toBe('waiting');
    expect(await cond.acquire({ timeout: 20_000 })).toBe(true);
    const c = start('acquireAndReport', [cond, third]);
    expect(await third.get({ timeout: 20_000 })).toBe('acquiring');
    a.kill();
    await finish(a);
    await deathSeen(marker, "the broker's clean-up after the dead waiter");
    // The third process must not get the lock while this one holds it.
    await expect(third.get({ timeout: 500 })).rejects.toMatchObject({ name: 'QueueEmpty' });
    expect(cond.lock.locked).toBe(true);
    cond.release();
    expect(await third.get({ timeout: 20_000 })).toEqual({ got: true, abandoned: false });
    await finish(c);
    expect(c.exitCode).toBe(0);
    expect(cond.lock.locked).toBe(false);
  }, 30_000);

  it('absorbs no notify: notify(1) after its death wakes the live waiter', async () => {
    const cond = new Condition();
    const marker = new Lock();
    const out = new Queue<any>();
    const live = new Queue<any>();
    const dead = start('waitOnCondition', [cond, marker, out]);
    expect(await out.get({ timeout: 20_000 })).toBe('waiting');
    const l = start('waitAndReport', [cond, live]);
    expect(await live.get({ timeout: 20_000 })).toBe('waiting');
    expect(await cond.acquire({ timeout: 20_000 })).toBe(true); // both are in wait()
    cond.release();
    dead.kill();
    await finish(dead);
    await deathSeen(marker, "the broker's clean-up after the dead waiter");
    await cond.acquire();
    cond.notify(1);
    cond.release();
    expect(await live.get({ timeout: 10_000 })).toEqual({ notified: true });
    await finish(l);
    expect(cond.lock.locked).toBe(false);
  }, 30_000);
});

describe('timeouts too large for one setTimeout are honoured', () => {
  for (const timeout of [2 ** 31, 2 ** 40]) {
    it(`Process.join({ timeout: ${timeout === 2 ** 31 ? '2 ** 31' : '2 ** 40'} }) waits until the child ends`, async () => {
      const flag = join(dir, `flag${files++}`);
      const p = start('spinUntil', [flag]);
      let settled: unknown = 'pending';
      const joined = p.join({ timeout }).then((v) => {
        settled = v;
        return v;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe('pending');
      writeFileSync(flag, '');
      expect(await joined).toBe(true);
      expect(existsSync(flag)).toBe(true);
    }, 30_000);

    it(`get / getSync with timeout ${timeout === 2 ** 31 ? '2 ** 31' : '2 ** 40'} in a child wait for the item`, async () => {
      for (const sync of [false, true]) {
        const q = new Queue<string>();
        const out = new Queue<any>();
        const p = start('longGet', [q, out, timeout, sync]);
        expect(await out.get({ timeout: 20_000 })).toBe('getting');
        await expect(out.get({ timeout: 300 })).rejects.toMatchObject({ name: 'QueueEmpty' }); // still waiting
        q.putNowait('item');
        expect(await out.get({ timeout: 20_000 })).toEqual({ item: 'item' });
        await finish(p);
      }
    }, 30_000);
  }
});
