import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, setLongTimeout, waitAsync } from '@conc/core';

afterEach(() => {
  vi.useRealTimers();
});

describe('setLongTimeout', () => {
  it('fires once, when the whole delay has passed, for delays past one setTimeout (2 ** 31, 2 ** 40)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    for (const ms of [MAX_TIMER_MS, 2 ** 31, 2 ** 31 + 12_345, 2 ** 40]) {
      let fired = 0;
      setLongTimeout(() => fired++, ms);
      vi.advanceTimersByTime(ms - 5);
      expect(fired, `${ms} ms: early`).toBe(0);
      vi.advanceTimersByTime(10);
      expect(fired, `${ms} ms: on time`).toBe(1);
      vi.advanceTimersByTime(3 * MAX_TIMER_MS);
      expect(fired, `${ms} ms: once`).toBe(1);
    }
  });

  it('clear() stops it, at any link of the chain', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = 0;
    const t = setLongTimeout(() => fired++, 3 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 10); // one link gone
    t.clear();
    vi.advanceTimersByTime(10 * MAX_TIMER_MS);
    expect(fired).toBe(0);
    const short = setLongTimeout(() => fired++, 50);
    short.clear();
    vi.advanceTimersByTime(100);
    expect(fired).toBe(0);
  });

  it('with real timers: 2 ** 31 and 2 ** 40 are still pending after 200 ms; bad delays throw RangeError', async () => {
    let fired = 0;
    const timers = [setLongTimeout(() => fired++, 2 ** 31), setLongTimeout(() => fired++, 2 ** 40)];
    await new Promise((r) => setTimeout(r, 200));
    expect(fired).toBe(0);
    for (const t of timers) {
      expect(t.hasRef()).toBe(true);
      t.clear();
    }
    expect(() => setLongTimeout(() => {}, -1)).toThrow(RangeError);
    expect(() => setLongTimeout(() => {}, Number.NaN)).toThrow(RangeError);
  });

  it('an unref()ed long timer does not keep the process alive; a ref()ed one does', () => {
    const run = (unref: boolean) =>
      spawnSync(
        process.execPath,
        [
          '-e',
          `const t = require('@conc/core').setLongTimeout(() => process.exit(3), 2 ** 40);${unref ? ' t.unref();' : ''}`,
        ],
        { cwd: new URL('.', import.meta.url).pathname, timeout: 3000, encoding: 'utf8' },
      );
    const unrefed = run(true);
    expect(unrefed.status, unrefed.stderr).toBe(0);
    const refed = run(false);
    expect(refed.signal).toBe('SIGTERM'); // still waiting when spawnSync's timeout killed it
  }, 30_000);
});

describe('waitAsync with a timeout past one setTimeout', () => {
  it('is still pending after 200 ms and is ended by a notify', async () => {
    for (const timeout of [2 ** 31, 2 ** 40]) {
      const words = new Int32Array(new SharedArrayBuffer(4));
      let settled: unknown = 'pending';
      const r = waitAsync(words, 0, 0, performance.now() + timeout, undefined, 0);
      const p = Promise.resolve(r).then((v) => {
        settled = v;
      });
      await new Promise((res) => setTimeout(res, 200));
      expect(settled).toBe('pending');
      Atomics.notify(words, 0);
      await p;
      expect(settled).toBe('ok');
    }
  });
});
