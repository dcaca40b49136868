import { describe, expect, it } from 'vitest';
import { ConcRuntimeError, Lock, RLock, TimeoutError } from '@conc/lock';
import { run } from './helpers';

describe.each([
  ['Lock', () => new Lock()],
  ['RLock', () => new RLock()],
] as const)('%s guard and callback forms', (name, make) => {
  it('guardSync holds until Symbol.dispose, and disposing twice releases once', () => {
    const lock = make();
    const g = lock.guardSync();
    expect(lock.locked).toBe(true);
    g[Symbol.dispose]();
    expect(lock.locked).toBe(false);
    g[Symbol.dispose]();
    g.release();
    // nothing was released twice: a fresh acquire/release still balances
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
    expect(() => lock.release()).toThrow(ConcRuntimeError);
  });

  it('await guard() holds until release(), then dispose does nothing more', async () => {
    const lock = make();
    const g = await lock.guard({ timeout: 1_000 });
    expect(lock.locked).toBe(true);
    g.release();
    expect(lock.locked).toBe(false);
    g[Symbol.dispose]();
    expect(lock.locked).toBe(false);
  });

  it('the try/finally that `using` lowers to releases when the body throws', () => {
    const lock = make();
    expect(() => {
      const g = lock.guardSync();
      try {
        throw new Error('inside');
      } finally {
        g[Symbol.dispose]();
      }
    }).toThrow('inside');
    expect(lock.locked).toBe(false);
  });

  it('withLockSync returns fn’s value and releases even when fn throws', () => {
    const lock = make();
    expect(lock.withLockSync(() => (lock.locked ? 'held inside' : 'not held'))).toBe('held inside');
    expect(lock.locked).toBe(false);
    const err = new RangeError('thrown inside');
    expect(() =>
      lock.withLockSync(() => {
        throw err;
      }),
    ).toThrow(err);
    expect(lock.locked).toBe(false);
  });

  it('withLock awaits fn, returns its value, and releases even when fn rejects', async () => {
    const lock = make();
    expect(
      await lock.withLock(async () => {
        await new Promise((r) => setTimeout(r, 5));
        return lock.locked;
      }),
    ).toBe(true);
    expect(lock.locked).toBe(false);
    await expect(
      lock.withLock(async () => {
        await null;
        throw new Error('rejected inside');
      }),
    ).rejects.toThrow('rejected inside');
    expect(lock.locked).toBe(false);
    await expect(
      lock.withLock(() => {
        throw new Error('thrown synchronously inside');
      }),
    ).rejects.toThrow('thrown synchronously inside');
    expect(lock.locked).toBe(false);
  });

  it('guard forms time out with TimeoutError while another thread holds it, holding nothing', async () => {
    const lock = make();
    const flags = new Int32Array(new SharedArrayBuffer(8));
    // hold it from a worker, so that an RLock is not simply re-entered
    const holder = run(
      (l: Lock, f: Int32Array) => {
        l.acquireSync();
        Atomics.store(f, 0, 1);
        Atomics.wait(f, 1, 0, 10_000);
        l.release();
      },
      [lock, flags],
    );
    while (Atomics.load(flags, 0) === 0) await new Promise((r) => setTimeout(r, 2));
    expect(() => lock.guardSync({ timeout: 20 })).toThrow(TimeoutError);
    expect(() => lock.guardSync({ timeout: 20 })).toThrow(new RegExp(`^${name}: not acquired within 20 ms$`));
    await expect(lock.guard({ timeout: 20 })).rejects.toThrow(TimeoutError);
    let ran = false;
    expect(() => lock.withLockSync(() => (ran = true), { timeout: 20 })).toThrow(TimeoutError);
    await expect(lock.withLock(() => (ran = true), { timeout: 20 })).rejects.toThrow(TimeoutError);
    expect(ran).toBe(false);
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    await holder;
    expect(lock.locked).toBe(false);
    const g = lock.guardSync({ timeout: 1_000 });
    g[Symbol.dispose]();
    expect(lock.locked).toBe(false);
  }, 15_000);

  it('guard with an aborted signal rejects with its reason', async () => {
    const lock = make();
    const reason = new Error('abort guard');
    await expect(lock.guard({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(lock.locked).toBe(false);
  });
});

describe('RLock guards nest', () => {
  it('each nested guard adds a level and disposing pops one', () => {
    const r = new RLock();
    const outer = r.guardSync();
    const inner = r.guardSync();
    expect(r.recursionLevel).toBe(2);
    inner[Symbol.dispose]();
    expect(r.recursionLevel).toBe(1);
    expect(r.withLockSync(() => r.recursionLevel)).toBe(2);
    outer[Symbol.dispose]();
    expect(r.locked).toBe(false);
  });
});
