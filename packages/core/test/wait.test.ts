import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  checkWaitOptions,
  deadlineOf,
  remaining,
  sleepSync,
  spinWhileEqual,
  throwIfAborted,
  waitAsync,
  waitSync,
} from '@conc/core';

function words(n = 1): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/** Run `code` in a raw worker (CommonJS eval) and resolve when it exits with code 0. */
function runWorker(code: string, workerData: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData });
    w.on('error', reject);
    w.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exited with ${c}`))));
  });
}

describe('deadlineOf', () => {
  it('gives Infinity for no timeout and for Infinity', () => {
    expect(deadlineOf(undefined)).toBe(Number.POSITIVE_INFINITY);
    expect(deadlineOf(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });

  it('turns a finite timeout into an absolute performance.now() deadline', () => {
    const before = performance.now();
    const d = deadlineOf(250);
    const after = performance.now();
    expect(d).toBeGreaterThanOrEqual(before + 250);
    expect(d).toBeLessThanOrEqual(after + 250);
    const z = deadlineOf(0);
    expect(z).toBeLessThanOrEqual(performance.now());
  });

  it.each([-1, -0.5, Number.NEGATIVE_INFINITY, Number.NaN])('throws RangeError for %s', (t) => {
    expect(() => deadlineOf(t)).toThrow(RangeError);
  });

  it('throws TypeError for a timeout that is not a number, naming it', () => {
    for (const bad of ['5', null, true, 10n, {}]) {
      expect(() => deadlineOf(bad as unknown as number)).toThrow(TypeError);
      expect(() => deadlineOf(bad as unknown as number)).toThrow(/timeout must be a number/);
    }
    expect(() => deadlineOf(null as unknown as number, 'Foo.wait: timeout')).toThrow(/Foo\.wait: timeout.*null/);
    expect(() => deadlineOf('100' as unknown as number)).toThrow(/got "100" \(a string\)/);
  });

  it('names what was wrong in the message', () => {
    expect(() => deadlineOf(-3, 'Lock.acquire: timeout')).toThrow(/Lock\.acquire: timeout .*-3/);
  });
});

describe('remaining', () => {
  it('keeps Infinity, never goes negative, counts down', () => {
    expect(remaining(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(remaining(performance.now() - 1000)).toBe(0);
    const left = remaining(performance.now() + 10_000);
    expect(left).toBeGreaterThan(9_000);
    expect(left).toBeLessThanOrEqual(10_000);
  });
});

describe('checkWaitOptions', () => {
  it('accepts undefined, {}, Infinity, 0 and an AbortSignal', () => {
    expect(() => checkWaitOptions(undefined, 'X.wait')).not.toThrow();
    expect(() => checkWaitOptions({}, 'X.wait')).not.toThrow();
    expect(() => checkWaitOptions({ timeout: Number.POSITIVE_INFINITY }, 'X.wait')).not.toThrow();
    expect(() => checkWaitOptions({ timeout: 0 }, 'X.wait')).not.toThrow();
    expect(() => checkWaitOptions({ timeout: 5, signal: new AbortController().signal }, 'X.wait')).not.toThrow();
  });

  it.each([-1, Number.NaN, Number.NEGATIVE_INFINITY])('throws RangeError for timeout %s, naming the method', (t) => {
    expect(() => checkWaitOptions({ timeout: t }, 'X.wait')).toThrow(RangeError);
    expect(() => checkWaitOptions({ timeout: t }, 'X.wait')).toThrow(/X\.wait: timeout/);
  });

  it('throws TypeError for options that are not an object, or a signal that is not an AbortSignal', () => {
    expect(() => checkWaitOptions(null as never, 'X.wait')).toThrow(TypeError);
    expect(() => checkWaitOptions(5 as never, 'X.wait')).toThrow(/X\.wait: options must be an object/);
    expect(() => checkWaitOptions({ signal: {} as AbortSignal }, 'X.wait')).toThrow(TypeError);
  });
});

describe('throwIfAborted', () => {
  it('throws the signal reason, and nothing for a live or missing signal', () => {
    expect(() => throwIfAborted(undefined)).not.toThrow();
    const ac = new AbortController();
    expect(() => throwIfAborted(ac.signal)).not.toThrow();
    const reason = new Error('stop');
    ac.abort(reason);
    let thrown: unknown;
    try {
      throwIfAborted(ac.signal);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBe(reason);
  });
});

describe('sleepSync', () => {
  it('blocks the calling thread for about the given time', () => {
    const t0 = performance.now();
    sleepSync(120);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('returns at once for 0 and rejects bad input: RangeError if negative or NaN, TypeError if not a number', () => {
    expect(() => sleepSync(0)).not.toThrow();
    expect(() => sleepSync(-1)).toThrow(RangeError);
    expect(() => sleepSync(Number.NaN)).toThrow(RangeError);
    expect(() => sleepSync('10' as unknown as number)).toThrow(TypeError);
    expect(() => sleepSync(null as unknown as number)).toThrow(/sleep: ms must be a number/);
  });
});

describe('spinWhileEqual', () => {
  it('is true as soon as the word differs, false if it never does', () => {
    const w = words();
    expect(spinWhileEqual(w, 0, 0, 100)).toBe(false);
    w[0] = 1;
    expect(spinWhileEqual(w, 0, 0, 100)).toBe(true);
  });
});

describe('waitSync', () => {
  it('returns not-equal when the word already differs', () => {
    const w = words();
    w[0] = 7;
    expect(waitSync(w, 0, 0, Number.POSITIVE_INFINITY)).toBe('not-equal');
  });

  it('times out at the deadline', () => {
    const w = words();
    expect(waitSync(w, 0, 0, deadlineOf(0))).toBe('timed-out');
    expect(waitSync(w, 0, 0, deadlineOf(30))).toBe('timed-out');
  });

  it('is woken by another thread changing the word and notifying', async () => {
    const w = words(2);
    const done = runWorker(
      `const { workerData: w } = require('node:worker_threads');
       // wait until the main thread is about to park, then wake it
       while (Atomics.load(w, 1) === 0) Atomics.wait(w, 1, 0, 5);
       Atomics.wait(w, 1, 1, 50);
       Atomics.store(w, 0, 1);
       Atomics.notify(w, 0);`,
      w,
    );
    Atomics.store(w, 1, 1);
    let r: string;
    do r = waitSync(w, 0, 0, deadlineOf(10_000));
    while (Atomics.load(w, 0) === 0 && r !== 'timed-out');
    expect(r).not.toBe('timed-out');
    expect(Atomics.load(w, 0)).toBe(1);
    await done;
  }, 15_000);
});

describe('waitAsync', () => {
  it('returns not-equal synchronously when the word already differs', () => {
    const w = words();
    w[0] = 3;
    expect(waitAsync(w, 0, 0, Number.POSITIVE_INFINITY)).toBe('not-equal');
  });

  it('resolves timed-out at the deadline', async () => {
    const w = words();
    expect(await waitAsync(w, 0, 0, deadlineOf(30))).toBe('timed-out');
  }, 5_000);

  it('resolves ok when another thread notifies', async () => {
    const w = words();
    const p = waitAsync(w, 0, 0, deadlineOf(10_000));
    const done = runWorker(
      `const { workerData: w } = require('node:worker_threads');
       Atomics.store(w, 0, 1);
       Atomics.notify(w, 0);`,
      w,
    );
    expect(await p).toBe('ok');
    await done;
  }, 15_000);

  it('is woken by an abort (the caller then checks the signal)', async () => {
    const w = words();
    const ac = new AbortController();
    const p = waitAsync(w, 0, 0, deadlineOf(10_000), ac.signal);
    setTimeout(() => ac.abort(new Error('stop')), 20);
    expect(await p).toBe('ok');
    expect(ac.signal.aborted).toBe(true);
  }, 5_000);
});
