// What the bridge does at the edges: puts on a shut-down queue, results that
// are primitives, a Lock or a permit given back by another process than the
// one that took it.
import './use-broker.js'; // first: these tests are about the broker (the fallback)
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { Semaphore } from '@conc/semaphore';
import { describe, expect, it } from 'vitest';
import { Pair } from './fixtures/pair.mjs';
import { finish, rejectionOf, targets, until } from './helpers.js';

const t = (e: string) => ({ module: targets, export: e });

describe('a queue shut down under a child that puts', () => {
  it('the refusal of a batched put throws QueueShutDown from the next put, then every put throws at once', async () => {
    const q = new Queue();
    q.shutdown();
    const out = new Queue<any>();
    const p = new Process({ target: t('putAfterShutdown'), args: [q, out] }).start();
    const r = await out.get({ timeout: 20_000 });
    expect(r.name).toBe('QueueShutDown');
    expect(r.isShutDown).toBe(true);
    expect(r.message).toMatch(
      /^Queue\.put: the queue is shut down \(\d+ items? put in this process (was|were) not enqueued\)$/,
    );
    expect(r.next).toBe('QueueShutDown: Queue.putNowait: the queue is shut down');
    await finish(p);
    expect(p.exitCode).toBe(0); // the target saw the error: nothing left unreported
    expect(q.qsize()).toBe(0);
  }, 30_000);

  it('a refusal no later put reported fails the child: join rejects with QueueShutDown', async () => {
    const q = new Queue();
    q.shutdown();
    const p = new Process({ target: t('lastPutRefused'), args: [q] }).start();
    const e = await rejectionOf(p.join({ timeout: 20_000 }));
    expect(e.name).toBe('QueueShutDown');
    expect(e.message).toBe('Queue.put: the queue is shut down (1 item put in this process was not enqueued)');
    expect(p.exitCode).toBe(1);
  }, 30_000);
});

describe('results that are primitives', () => {
  it('arrive in the child as proxies of their class (nested too), served by the owner', async () => {
    const pair = new Pair();
    const out = new Queue();
    const p = new Process({
      target: { module: new URL('./fixtures/pair.mjs', import.meta.url).href, export: 'useReturnedLock' },
      args: [pair, out],
    }).start();
    expect(await out.get({ timeout: 20_000 })).toEqual({
      isLock: true,
      got: true,
      nestedAreLocks: true,
      sameProxy: true,
      n: 7,
      counts: [1, 2],
    });
    await finish(p);
    // The child ended holding the Lock it got as a result: given back, flagged.
    await until(() => !pair.inner.locked, 5000, 'the returned lock given back');
    expect(pair.inner.tryAcquire()).toBe(true);
    expect(pair.inner.abandoned).toBe(true);
    pair.inner.release();
  }, 30_000);
});

describe('released by another process than the one that acquired', () => {
  it("a Lock: the acquirer's later death leaves the next holder alone", async () => {
    const lock = new Lock();
    const marker = new Lock();
    const out = new Queue();
    const a = new Process({ target: t('holdAll'), args: [[lock, marker], out] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('holding');
    const b = new Process({ target: t('releaseOnly'), args: [lock] }).start();
    await finish(b);
    expect(b.exitCode).toBe(0);
    expect(lock.locked).toBe(false);
    expect(lock.tryAcquire()).toBe(true); // the parent holds it now
    a.kill();
    await finish(a);
    // a's other lock given back proves the broker has cleaned up after a.
    await until(() => !marker.locked, 5000, "a's holdings given back");
    expect(marker.tryAcquire()).toBe(true);
    expect(marker.abandoned).toBe(true);
    expect(lock.locked).toBe(true);
    expect(lock.abandoned).toBe(false);
    lock.release();
    marker.release();
  }, 30_000);

  it("a Semaphore permit: the acquirer's death gives back only permits still out", async () => {
    const sem = new Semaphore(1);
    const marker = new Lock();
    const out = new Queue();
    const a = new Process({ target: t('holdAll'), args: [[sem, marker], out] }).start();
    expect(await out.get({ timeout: 20_000 })).toBe('holding');
    expect(sem.value).toBe(0);
    const b = new Process({ target: t('releaseOnly'), args: [sem] }).start();
    await finish(b);
    expect(sem.value).toBe(1);
    a.kill();
    await finish(a);
    await until(() => !marker.locked, 5000, "a's holdings given back");
    expect(sem.value).toBe(1); // not 2: b's release was charged to a's permit
  }, 30_000);
});
