// Barrier: construction, rounds on one thread (async waits meet each other),
// breaking, resetting, timeouts, bad input.
import { Barrier, BrokenBarrierError, ConcRuntimeError } from '@conc/barrier';
import { describe, expect, it } from 'vitest';
import { pause, until } from './helpers';

/** Start an async wait and record when it settles. */
function waiting(barrier: Barrier, options?: { timeout?: number; signal?: AbortSignal }) {
  const task = { settled: false, promise: barrier.wait(options) };
  task.promise.then(
    () => (task.settled = true),
    () => (task.settled = true),
  );
  return task;
}

describe('Barrier: construction', () => {
  it('has parties, no waiters, is not broken', () => {
    const b = new Barrier(3);
    expect(b.parties).toBe(3);
    expect(b.nWaiting).toBe(0);
    expect(b.broken).toBe(false);
    expect(b.timeout).toBeUndefined();
    expect(String(b)).toBe('Barrier(parties=3, waiting=0, filling)');
    expect(new Barrier(2, { timeout: 50 }).timeout).toBe(50);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('Barrier(%s) throws RangeError', (parties) => {
    expect(() => new Barrier(parties)).toThrow(RangeError);
    expect(() => new Barrier(parties)).toThrow(/Barrier: parties must be a positive integer/);
  });

  it.each(['4', undefined, null, {}])('Barrier(%s) throws TypeError', (parties) => {
    expect(() => new Barrier(parties as never)).toThrow(TypeError);
  });

  it.each([-1, Number.NaN])('a default timeout of %s throws RangeError', (timeout) => {
    expect(() => new Barrier(2, { timeout })).toThrow(/Barrier: timeout must be a non-negative number/);
  });

  it('options that are not an object, or an action, are TypeErrors', () => {
    expect(() => new Barrier(2, 5 as never)).toThrow(TypeError);
    expect(() => new Barrier(2, { action: (() => {}) as never })).toThrow(/action option is not supported/);
  });

  it('BrokenBarrierError is a ConcRuntimeError (Python: a RuntimeError)', () => {
    const e = new BrokenBarrierError('x');
    expect(e).toBeInstanceOf(ConcRuntimeError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('BrokenBarrierError');
  });
});

describe('Barrier: rounds on one thread', () => {
  it('Barrier(1) lets every wait through at once with index 0', async () => {
    const b = new Barrier(1);
    expect(b.waitSync()).toBe(0);
    expect(b.waitSync({ timeout: 0 })).toBe(0);
    expect(await b.wait()).toBe(0);
    expect(await b.wait({ timeout: 0 })).toBe(0);
    expect(b.nWaiting).toBe(0);
  });

  it('three async waits meet: indices 0, 1, 2 in arrival order, round after round', async () => {
    const b = new Barrier(3);
    for (let round = 0; round < 5; round++) {
      const first = waiting(b);
      const second = waiting(b);
      await until(() => b.nWaiting, 2);
      expect(first.settled || second.settled).toBe(false);
      expect(await b.wait({ timeout: 5_000 })).toBe(2);
      expect(await Promise.all([first.promise, second.promise])).toEqual([0, 1]);
      expect(b.nWaiting).toBe(0);
    }
    expect(b.broken).toBe(false);
  });

  it('nWaiting counts the waiters of the round being filled', async () => {
    const b = new Barrier(4);
    const tasks = [waiting(b), waiting(b)];
    await until(() => b.nWaiting, 2);
    tasks.push(waiting(b));
    await until(() => b.nWaiting, 3);
    expect(String(b)).toBe('Barrier(parties=4, waiting=3, filling)');
    tasks.push(waiting(b));
    expect((await Promise.all(tasks.map((t) => t.promise))).sort()).toEqual([0, 1, 2, 3]);
    expect(b.nWaiting).toBe(0);
  });
});

describe('Barrier: broken, reset, timeouts', () => {
  it('abort() breaks every waiter and every later wait until reset()', async () => {
    const b = new Barrier(3);
    const tasks = [waiting(b), waiting(b)];
    await until(() => b.nWaiting, 2);
    b.abort();
    for (const t of tasks) await expect(t.promise).rejects.toThrow(BrokenBarrierError);
    expect(b.broken).toBe(true);
    expect(b.nWaiting).toBe(0);
    expect(() => b.waitSync()).toThrow(BrokenBarrierError);
    expect(() => b.waitSync()).toThrow(/the barrier is broken/);
    await expect(b.wait()).rejects.toThrow(BrokenBarrierError);
    b.reset();
    expect(b.broken).toBe(false);
    expect((await Promise.all([b.wait(), b.wait(), b.wait()])).sort()).toEqual([0, 1, 2]);
  });

  it('reset() while threads wait makes them throw BrokenBarrierError; the barrier is then usable', async () => {
    const b = new Barrier(3);
    const tasks = [waiting(b), waiting(b)];
    await until(() => b.nWaiting, 2);
    b.reset();
    for (const t of tasks) await expect(t.promise).rejects.toThrow(/reset while this thread waited/);
    expect(b.broken).toBe(false);
    expect(b.nWaiting).toBe(0);
    expect((await Promise.all([b.wait(), b.wait(), b.wait()])).sort()).toEqual([0, 1, 2]);
  });

  it('sync calls right after an async wait on the same thread do not wait for it', async () => {
    const b = new Barrier(2);
    const p = b.wait();
    b.reset(); // the async wait holds nothing across its await
    await expect(p).rejects.toThrow(BrokenBarrierError);
    const q = b.wait();
    b.abort();
    await expect(q).rejects.toThrow(/the barrier is broken/);
  });

  it('a wait that times out throws BrokenBarrierError and breaks the barrier for the others', async () => {
    const b = new Barrier(3);
    const patient = waiting(b, { timeout: 10_000 });
    await expect(b.wait({ timeout: 40 })).rejects.toThrow(/timed out; the barrier is now broken/);
    await expect(patient.promise).rejects.toThrow(BrokenBarrierError);
    expect(b.broken).toBe(true);
    b.reset();
    expect(b.broken).toBe(false);
  });

  it('waitSync times out the same way, and so does the default timeout', () => {
    const b = new Barrier(2);
    expect(() => b.waitSync({ timeout: 20 })).toThrow(BrokenBarrierError);
    expect(b.broken).toBe(true);
    const d = new Barrier(2, { timeout: 20 });
    expect(() => d.waitSync()).toThrow(/Barrier\.waitSync: timed out/);
    expect(d.broken).toBe(true);
    d.reset();
    expect(() => d.waitSync({ timeout: 0 })).toThrow(BrokenBarrierError);
  });

  it('aborting a wait that has arrived rejects with the reason and breaks the barrier', async () => {
    const b = new Barrier(3);
    const ac = new AbortController();
    const other = waiting(b);
    const aborted = waiting(b, { signal: ac.signal });
    await until(() => b.nWaiting, 2);
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(aborted.promise).rejects.toBe(reason);
    await expect(other.promise).rejects.toThrow(BrokenBarrierError);
    expect(b.broken).toBe(true);
  });
});

describe('Barrier: bad input changes nothing', () => {
  it.each([-1, Number.NaN, Number.NEGATIVE_INFINITY])('timeout %s throws RangeError at once', async (timeout) => {
    const b = new Barrier(2);
    const other = waiting(b);
    await until(() => b.nWaiting, 1);
    expect(() => b.waitSync({ timeout })).toThrow(RangeError);
    expect(() => b.waitSync({ timeout })).toThrow(/Barrier\.waitSync: timeout/);
    let p!: Promise<number>;
    expect(() => {
      p = b.wait({ timeout });
    }).not.toThrow();
    await expect(p).rejects.toThrow(RangeError);
    expect(b.nWaiting).toBe(1);
    expect(b.broken).toBe(false);
    expect(await b.wait({ timeout: 5_000 })).toBe(1);
    expect(await other.promise).toBe(0);
  });

  it('an already-aborted signal rejects with its reason and changes nothing', async () => {
    const b = new Barrier(2);
    const other = waiting(b);
    await until(() => b.nWaiting, 1);
    const reason = new Error('aborted before');
    await expect(b.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(b.wait({ signal: AbortSignal.abort('r') })).rejects.toBe('r');
    expect(b.nWaiting).toBe(1);
    expect(b.broken).toBe(false);
    await pause(10);
    expect(other.settled).toBe(false);
    expect(await b.wait({ timeout: 5_000 })).toBe(1);
    expect(await other.promise).toBe(0);
  });

  it('options of the wrong type are TypeErrors', async () => {
    const b = new Barrier(2);
    expect(() => b.waitSync(null as never)).toThrow(TypeError);
    await expect(b.wait({ signal: {} as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(b.nWaiting).toBe(0);
  });
});
