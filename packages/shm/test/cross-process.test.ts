// Real child processes mapping the parent's region from the fd in their stdio.
import { available, closeRegion, createRegion, reason, wait, wake } from '@conc/shm';
import { afterEach, describe, expect, it } from 'vitest';
import { go, goAsync, startChild } from './helpers';

const fds: number[] = [];
function region(size = 4096) {
  const r = createRegion(size);
  fds.push(r.fd);
  return { ...r, words: new Int32Array(r.buffer) };
}
afterEach(() => {
  while (fds.length) closeRegion(fds.pop()!);
});

describe.runIf(!available)('without the native module', () => {
  it('says why', () => {
    expect(reason).not.toBe('');
  });
});

describe.runIf(available)('memory shared between processes', () => {
  it('Atomics.add is exact across two processes: 2 x 1e6 = 2e6', async () => {
    const { fd, words } = region();
    const child = startChild(fd, 'add', 1_000_000);
    go(words);
    for (let i = 0; i < 1_000_000; i++) Atomics.add(words, 0, 1);
    await child.done;
    expect(Atomics.load(words, 0)).toBe(2_000_000);
  });

  it('a 3-state futex mutex makes plain increments exact across two processes: 2 x 2e5', async () => {
    const { fd, words } = region();
    const child = startChild(fd, 'mutex', 200_000);
    go(words);
    for (let i = 0; i < 200_000; i++) {
      let c = Atomics.compareExchange(words, 4, 0, 1);
      if (c !== 0) {
        if (c !== 2) c = Atomics.exchange(words, 4, 2);
        while (c !== 0) {
          wait(words, 4, 2);
          c = Atomics.exchange(words, 4, 2);
        }
      }
      words[3]++;
      if (Atomics.sub(words, 4, 1) !== 1) {
        Atomics.store(words, 4, 0);
        wake(words, 4, 1);
      }
    }
    await child.done;
    expect(words[3]).toBe(400_000);
    expect(Atomics.load(words, 4)).toBe(0);
  });

  it('a futex wake in the child wakes the parent parked in the kernel (word unchanged: a real wake)', async () => {
    const { fd, words } = region();
    const child = startChild(fd, 'wake-until-one');
    go(words);
    expect(wait(words, 0, 0, 20_000)).toBe('ok');
    const [out] = await child.done;
    expect(out.woke).toBe(1);
  });

  it('a futex wake in the parent wakes the child parked in the kernel', async () => {
    const { fd, words } = region();
    const child = startChild(fd, 'wait', 20_000);
    const end = Date.now() + 20_000;
    while (Atomics.load(words, 1) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    let woke = 0;
    while ((woke = wake(words, 0, 1)) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
    expect(woke).toBe(1);
    const [out] = await child.done;
    expect(out).toEqual({ result: 'ok', value: 0 });
  });

  it('a child sees a word changed before it waits: not-equal, without parking', async () => {
    const { fd, words } = region();
    Atomics.store(words, 0, 7);
    const [out] = await startChild(fd, 'wait', 20_000).done;
    expect(out).toEqual({ result: 'not-equal', value: 7 });
  });

  it('a wait times out when no one wakes it, and not before', () => {
    const { words } = region();
    const t = performance.now();
    expect(wait(words, 0, 0, 50)).toBe('timed-out');
    expect(performance.now() - t).toBeGreaterThanOrEqual(45);
    expect(wait(words, 0, 0, 0)).toBe('timed-out');
    expect(wait(words, 0, 1, 1000)).toBe('not-equal');
    expect(wake(words, 0)).toBe(0);
  });

  it('an async wait resolves on a wake from another process while the event loop keeps running', async () => {
    const { fd, words } = region();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const child = startChild(fd, 'set-and-wake', 200);
      const w = waitAsyncOn(words);
      await goAsync(words);
      const result = await w;
      expect(result).toBe('ok');
      expect(Atomics.load(words, 0)).toBe(1);
      expect(ticks).toBeGreaterThan(5);
      const [out] = await child.done;
      expect(out.woke).toBe(1); // the helper thread was parked on the word
    } finally {
      clearInterval(timer);
    }
  });

  it('an async wait is resolved by a pure kernel wake from another process (word unchanged)', async () => {
    const { fd, words } = region();
    const child = startChild(fd, 'wake-until-one');
    const w = waitAsyncOn(words);
    await goAsync(words);
    expect(await w).toBe('ok');
    expect(Atomics.load(words, 0)).toBe(0);
    const [out] = await child.done;
    expect(out.woke).toBe(1);
  });

  it('200 async waits on distinct words, woken from another process, each resolve once', async () => {
    const { fd, words } = region(4096);
    const results: string[] = [];
    const all = Array.from({ length: 200 }, (_, k) => waitAsyncOn(words, 6 + k).then((r) => results.push(r)));
    const child = startChild(fd, 'set-all', 200);
    await goAsync(words);
    await Promise.all(all);
    await child.done;
    expect(results.length).toBe(200);
    expect(results.every((r) => r === 'ok')).toBe(true);
  });
});

import { pendingAsyncWaits, waitAsync } from '@conc/shm';

/** waitAsync on words[i] == 0 with a 20 s bound; the promise of its result. */
function waitAsyncOn(words: Int32Array, i = 0): Promise<string> {
  const w = waitAsync(words, i, 0, 20_000);
  if (!w.async) throw new Error(`waitAsync settled at once: ${w.value}`);
  return w.value.then((r) => {
    expect(pendingAsyncWaits()).toBeGreaterThanOrEqual(0);
    return r;
  });
}
