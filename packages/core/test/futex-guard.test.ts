import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  Acquirable,
  ConcRuntimeError,
  DataCloneError,
  FUTEX_CONTENDED,
  FUTEX_LOCKED,
  FUTEX_UNLOCKED,
  TimeoutError,
  currentThreadToken,
  deadlineOf,
  futexLockAsync,
  futexLockSync,
  futexTryLock,
  futexUnlock,
  type WaitOptions,
} from '@conc/core';

function word(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

describe('futex', () => {
  it('tryLock takes a free word once; unlock reports the previous state', () => {
    const w = word();
    expect(futexTryLock(w, 0)).toBe(true);
    expect(w[0]).toBe(FUTEX_LOCKED);
    expect(futexTryLock(w, 0)).toBe(false);
    expect(futexUnlock(w, 0)).toBe(FUTEX_LOCKED);
    expect(w[0]).toBe(FUTEX_UNLOCKED);
    expect(futexUnlock(w, 0)).toBe(FUTEX_UNLOCKED);
    expect(w[0]).toBe(FUTEX_UNLOCKED);
  });

  it('a timed-out sync lock returns false and holds nothing', () => {
    const w = word();
    futexTryLock(w, 0);
    expect(futexLockSync(w, 0, deadlineOf(20))).toBe(false);
    // the word says "held, maybe waiters": one unlock frees it entirely
    expect(w[0]).toBe(FUTEX_CONTENDED);
    expect(futexUnlock(w, 0)).toBe(FUTEX_CONTENDED);
    expect(futexTryLock(w, 0)).toBe(true);
  });

  it('a timed-out async lock resolves false; an aborted one rejects with the reason', async () => {
    const w = word();
    futexTryLock(w, 0);
    expect(await futexLockAsync(w, 0, deadlineOf(20))).toBe(false);
    const ac = new AbortController();
    const reason = new Error('abort!');
    const p = futexLockAsync(w, 0, Number.POSITIVE_INFINITY, ac.signal);
    setTimeout(() => ac.abort(reason), 10);
    await expect(p).rejects.toBe(reason);
    await expect(futexLockAsync(w, 0, Number.POSITIVE_INFINITY, ac.signal)).rejects.toBe(reason);
    futexUnlock(w, 0);
    expect(futexTryLock(w, 0)).toBe(true);
  }, 5_000);

  it('a sync waiter in another thread gets the word when it is unlocked', async () => {
    const w = word();
    futexTryLock(w, 0);
    const worker = new Worker(
      `const { workerData: w, parentPort } = require('node:worker_threads');
       // same algorithm as futexLockSync, without a deadline
       while (Atomics.exchange(w, 0, 2) !== 0) Atomics.wait(w, 0, 2);
       parentPort.postMessage('got it');`,
      { eval: true, workerData: w },
    );
    const got = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // wait until the worker has announced itself as a waiter
    const t0 = performance.now();
    while (Atomics.load(w, 0) !== FUTEX_CONTENDED && performance.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(w[0]).toBe(FUTEX_CONTENDED);
    expect(futexUnlock(w, 0)).toBe(FUTEX_CONTENDED);
    expect(await got).toBe('got it');
    expect(w[0]).toBe(FUTEX_CONTENDED);
  }, 15_000);
});

/** A counting semaphore of one, enough to exercise Acquirable's guard forms. */
class Flag extends Acquirable {
  held = false;
  releases = 0;
  async acquire(options?: WaitOptions): Promise<boolean> {
    return this.acquireSync(options);
  }
  acquireSync(_options?: Omit<WaitOptions, 'signal'>): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }
  release(): void {
    if (!this.held) throw new ConcRuntimeError('Flag.release: not held');
    this.held = false;
    this.releases++;
  }
}

describe('Acquirable', () => {
  it('guardSync releases on Symbol.dispose, once', () => {
    const f = new Flag();
    const g = f.guardSync();
    expect(f.held).toBe(true);
    g[Symbol.dispose]();
    expect(f.held).toBe(false);
    g[Symbol.dispose]();
    g.release();
    expect(f.releases).toBe(1);
  });

  it('guard releases on release(), once', async () => {
    const f = new Flag();
    const g = await f.guard();
    expect(f.held).toBe(true);
    g.release();
    g[Symbol.dispose]();
    expect(f.held).toBe(false);
    expect(f.releases).toBe(1);
  });

  it('guard forms throw TimeoutError naming the class and timeout when not acquired', async () => {
    const f = new Flag();
    f.acquireSync();
    expect(() => f.guardSync({ timeout: 5 })).toThrow(TimeoutError);
    expect(() => f.guardSync({ timeout: 5 })).toThrow(/Flag: not acquired within 5 ms/);
    await expect(f.guard({ timeout: 5 })).rejects.toThrow(TimeoutError);
    expect(() => f.withLockSync(() => 1, { timeout: 5 })).toThrow(TimeoutError);
    await expect(f.withLock(() => 1, { timeout: 5 })).rejects.toThrow(TimeoutError);
    expect(f.releases).toBe(0);
  });

  it('withLock / withLockSync return the value and release even when fn throws', async () => {
    const f = new Flag();
    expect(f.withLockSync(() => (f.held ? 'inside' : 'not held'))).toBe('inside');
    expect(f.held).toBe(false);
    expect(() =>
      f.withLockSync(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(f.held).toBe(false);
    expect(await f.withLock(async () => 5)).toBe(5);
    await expect(
      f.withLock(async () => {
        throw new Error('async boom');
      }),
    ).rejects.toThrow('async boom');
    expect(f.held).toBe(false);
    expect(f.releases).toBe(4);
  });
});

describe('errors and identity', () => {
  it('error classes are Errors with their own names', () => {
    for (const [Cls, name] of [
      [TimeoutError, 'TimeoutError'],
      [DataCloneError, 'DataCloneError'],
      [ConcRuntimeError, 'ConcRuntimeError'],
    ] as const) {
      const e = new Cls('msg');
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(name);
      expect(e.message).toBe('msg');
      expect(String(e)).toBe(`${name}: msg`);
    }
  });

  it('currentThreadToken is a non-zero Int32, different in another thread', async () => {
    const mine = currentThreadToken();
    expect(mine).not.toBe(0);
    expect(mine | 0).toBe(mine);
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const theirs = await new Promise<number>((resolve, reject) => {
      const w = new Worker(
        `import(${JSON.stringify(dist)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.currentThreadToken()));`,
        { eval: true },
      );
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(theirs).not.toBe(0);
    expect(theirs).not.toBe(mine);
  }, 10_000);
});
