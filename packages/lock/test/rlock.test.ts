import { describe, expect, it } from 'vitest';
import { ConcRuntimeError, RLock } from '@conc/lock';
import { finish, fixture, run, sharedInts, spawn, until, within } from './helpers';

describe('RLock on one thread', () => {
  it('starts free: not locked, not owned, level 0', () => {
    const r = new RLock();
    expect(r.locked).toBe(false);
    expect(r.isOwned()).toBe(false);
    expect(r.recursionLevel).toBe(0);
    expect(String(r)).toBe('RLock(unlocked)');
  });

  it('counts re-entries through every acquire form and needs as many releases', async () => {
    const r = new RLock();
    expect(r.acquireSync()).toBe(true);
    expect(r.recursionLevel).toBe(1);
    expect(r.acquireSync({ timeout: 0 })).toBe(true);
    expect(r.tryAcquire()).toBe(true);
    expect(await r.acquire()).toBe(true);
    expect(await r.acquire({ timeout: 0 })).toBe(true);
    expect(r.recursionLevel).toBe(5);
    expect(r.isOwned()).toBe(true);
    expect(r.locked).toBe(true);
    expect(String(r)).toBe('RLock(locked, count=5)');
    for (let level = 4; level >= 1; level--) {
      r.release();
      expect(r.recursionLevel).toBe(level);
      expect(r.locked).toBe(true);
      expect(r.isOwned()).toBe(true);
    }
    r.release();
    expect(r.recursionLevel).toBe(0);
    expect(r.locked).toBe(false);
    expect(r.isOwned()).toBe(false);
  });

  it('release of an unlocked RLock throws ConcRuntimeError', () => {
    const r = new RLock();
    expect(() => r.release()).toThrow(ConcRuntimeError);
    expect(() => r.release()).toThrow(/RLock\.release: release of an unlocked RLock/);
    r.acquireSync();
    r.release();
    expect(() => r.release()).toThrow(/unlocked/);
    expect(r.locked).toBe(false);
    expect(r.tryAcquire()).toBe(true);
    expect(r.recursionLevel).toBe(1);
  });

  it.each([-1, Number.NaN])('acquireSync({ timeout: %s }) throws RangeError synchronously', (timeout) => {
    const r = new RLock();
    expect(() => r.acquireSync({ timeout })).toThrow(RangeError);
    expect(() => r.acquireSync({ timeout })).toThrow(/RLock\.acquireSync: timeout/);
    expect(() => r.guardSync({ timeout })).toThrow(RangeError);
    expect(() => r.withLockSync(() => 1, { timeout })).toThrow(RangeError);
    expect(r.locked).toBe(false);
  });

  it.each([-1, Number.NaN])(
    'acquire({ timeout: %s }) returns a promise that rejects with RangeError',
    async (timeout) => {
      const r = new RLock();
      let p!: Promise<boolean>;
      expect(() => {
        p = r.acquire({ timeout });
      }).not.toThrow();
      await expect(p).rejects.toThrow(RangeError);
      await expect(r.acquire({ timeout })).rejects.toThrow(/RLock\.acquire: timeout/);
      await expect(r.guard({ timeout })).rejects.toThrow(RangeError);
      expect(r.locked).toBe(false);
    },
  );

  it('an already-aborted signal rejects with the reason and takes nothing (free or owned)', async () => {
    const r = new RLock();
    const reason = new Error('no');
    await expect(r.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(r.locked).toBe(false);
    r.acquireSync();
    await expect(r.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(r.recursionLevel).toBe(1);
    r.release();
    expect(r.locked).toBe(false);
  });
});

describe('RLock across threads', () => {
  it('4 threads x 50 000 increments under the RLock, re-entering it each time, give exactly 200 000', async () => {
    const r = new RLock();
    const counter = sharedInts(1);
    const threads = Array.from({ length: 4 }, () => spawn(fixture('incrementReentrant'), [r, counter, 50_000]));
    const done = await Promise.all(threads.map((t) => finish<number>(t, 25_000)));
    expect(done).toEqual([50_000, 50_000, 50_000, 50_000]);
    expect(counter[0]).toBe(200_000);
    expect(r.locked).toBe(false);
    expect(r.recursionLevel).toBe(0);
  }, 30_000);

  it('a worker cannot release an RLock held by main: it gets ConcRuntimeError, main keeps it', async () => {
    const r = new RLock();
    r.acquireSync();
    const result = await run(
      (lock: RLock) => {
        const seen = { isOwned: lock.isOwned(), level: lock.recursionLevel, locked: lock.locked };
        try {
          lock.release();
          return { ...seen, error: 'no error' };
        } catch (e) {
          return { ...seen, error: `${(e as Error).name}: ${(e as Error).message}` };
        }
      },
      [r],
    );
    expect(result).toEqual({
      isOwned: false,
      level: 0,
      locked: true,
      error: 'ConcRuntimeError: RLock.release: cannot release an RLock held by another thread',
    });
    expect(r.isOwned()).toBe(true);
    expect(r.recursionLevel).toBe(1);
    r.release();
    expect(r.locked).toBe(false);
  }, 15_000);

  it('main cannot take or release an RLock a worker holds; once the worker lets go, main can', async () => {
    const r = new RLock();
    const flags = sharedInts(2);
    const t = spawn(fixture('holdRLock'), [r, flags]);
    await until(flags, 0, 1);
    expect(r.locked).toBe(true);
    expect(r.isOwned()).toBe(false);
    expect(r.recursionLevel).toBe(0);
    expect(r.tryAcquire()).toBe(false);
    expect(r.acquireSync({ timeout: 50 })).toBe(false);
    expect(await r.acquire({ timeout: 50 })).toBe(false);
    expect(() => r.release()).toThrow(ConcRuntimeError);
    expect(() => r.release()).toThrow(/held by another thread/);
    // the failed attempts hold nothing
    expect(r.isOwned()).toBe(false);
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    expect(r.acquireSync({ timeout: 10_000 })).toBe(true);
    expect(await finish(t)).toBe(2);
    expect(r.recursionLevel).toBe(1);
    r.release();
    expect(r.locked).toBe(false);
  }, 20_000);

  it('timed-out attempts by a worker hold nothing: after main releases, the RLock is free', async () => {
    const r = new RLock();
    r.acquireSync();
    r.acquireSync();
    const result = await run(
      async (lock: RLock) => [
        lock.tryAcquire(),
        lock.acquireSync({ timeout: 40 }),
        await lock.acquire({ timeout: 40 }),
        lock.recursionLevel,
      ],
      [r],
    );
    expect(result).toEqual([false, false, false, 0]);
    expect(r.recursionLevel).toBe(2);
    r.release();
    r.release();
    expect(r.locked).toBe(false);
    expect(() => r.release()).toThrow(/unlocked/);
  }, 15_000);

  it('aborting an acquire that waits on a worker-held RLock rejects with the reason; the RLock is acquirable later', async () => {
    const r = new RLock();
    const flags = sharedInts(2);
    const t = spawn(fixture('holdRLock'), [r, flags]);
    await until(flags, 0, 1);
    const ac = new AbortController();
    const reason = new Error('stop waiting');
    const p = r.acquire({ signal: ac.signal, timeout: 20_000 });
    const live = r.acquire({ timeout: 10_000 });
    setTimeout(() => ac.abort(reason), 20);
    await expect(within(p, 5_000, 'the aborted acquire')).rejects.toBe(reason);
    expect(r.isOwned()).toBe(false);
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    expect(await live).toBe(true);
    expect(r.recursionLevel).toBe(1);
    expect(await finish(t)).toBe(2);
    r.release();
    expect(r.locked).toBe(false);
  }, 20_000);
});
