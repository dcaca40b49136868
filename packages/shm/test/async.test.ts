// waitAsync: one helper thread per process, cancellable, exactly-once, never keeps a process alive for nothing.
import { available, closeRegion, createRegion, pendingAsyncWaits, wait, waitAsync, wake } from '@conc/shm';
import { afterEach, describe, expect, it } from 'vitest';
import { runModule } from './helpers';

const fds: number[] = [];
function words(size = 4096) {
  const r = createRegion(size);
  fds.push(r.fd);
  return new Int32Array(r.buffer);
}
afterEach(() => {
  while (fds.length) closeRegion(fds.pop()!);
});

function pending(w: ReturnType<typeof waitAsync>) {
  if (!w.async) throw new Error(`settled at once: ${w.value}`);
  return w;
}

describe.runIf(available)('waitAsync', () => {
  it('settles at once on a changed word or a zero timeout', () => {
    const a = words();
    a[0] = 3;
    expect(waitAsync(a, 0, 0, 1000)).toEqual({ async: false, value: 'not-equal' });
    expect(waitAsync(a, 0, 3, 0)).toEqual({ async: false, value: 'timed-out' });
    expect(pendingAsyncWaits()).toBe(0);
  });

  it('times out, and not before', async () => {
    const a = words();
    const t = performance.now();
    expect(await pending(waitAsync(a, 0, 0, 60)).value).toBe('timed-out');
    expect(performance.now() - t).toBeGreaterThanOrEqual(55);
    expect(pendingAsyncWaits()).toBe(0);
  });

  it('cancel resolves the promise with cancelled, once; a settled wait cannot be cancelled', async () => {
    const a = words();
    const w = pending(waitAsync(a, 0, 0));
    expect(pendingAsyncWaits()).toBe(1);
    expect(w.cancel()).toBe(true);
    expect(w.cancel()).toBe(false);
    expect(await w.value).toBe('cancelled');
    expect(pendingAsyncWaits()).toBe(0);
    const v = pending(waitAsync(a, 0, 0, 5000));
    Atomics.store(a, 0, 1);
    wake(a, 0);
    expect(await v.value).toBe('ok');
    expect(v.cancel()).toBe(false);
  });

  it('cancelling one of many waits on a word leaves the others waiting', async () => {
    const a = words();
    const ws = Array.from({ length: 10 }, () => pending(waitAsync(a, 0, 0, 10_000)));
    for (let i = 0; i < 10; i += 2) expect(ws[i].cancel()).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(pendingAsyncWaits()).toBe(5);
    Atomics.store(a, 0, 1);
    wake(a, 0);
    const results = await Promise.all(ws.map((w) => w.value));
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 ? 'ok' : 'cancelled')));
  });

  it('100 concurrent waits on one word and 200 on distinct words each resolve exactly once, 20 rounds', async () => {
    for (let round = 0; round < 20; round++) {
      const a = words();
      const counts = new Array(300).fill(0);
      const ws = Array.from({ length: 300 }, (_, k) => pending(waitAsync(a, k < 100 ? 0 : k - 99, 0, 10_000)));
      const done = ws.map((w, k) =>
        w.value.then((r) => {
          counts[k]++;
          return r;
        }),
      );
      // Wake from this thread (the helper is another thread): change each word, then wake it.
      await new Promise((r) => setTimeout(r, round % 3));
      for (let i = 0; i <= 200; i++) {
        Atomics.store(a, i, 1);
        wake(a, i);
      }
      const results = await Promise.all(done);
      await new Promise((r) => setImmediate(r));
      expect(results.every((r) => r === 'ok')).toBe(true);
      expect(counts.every((c) => c === 1)).toBe(true);
      expect(pendingAsyncWaits()).toBe(0);
    }
  });

  it('a sync wait and an async wait on one word are both woken by one wake-all', async () => {
    const a = words();
    const w = pending(waitAsync(a, 0, 0, 10_000));
    setTimeout(() => {
      Atomics.store(a, 0, 1);
      wake(a, 0);
    }, 20);
    expect(await w.value).toBe('ok');
    expect(wait(a, 0, 0, 1000)).toBe('not-equal');
  });

  it('without FUTEX_WAITV (CONC_SHM_NO_WAITV=1) the helper parks in slices and still resolves every wait', () => {
    const r = runModule(
      `import { createRegion, waitAsync, wake, pendingAsyncWaits } from '@conc/shm';
       const a = new Int32Array(createRegion(4096).buffer);
       const ws = [];
       for (let k = 0; k < 50; k++) ws.push(waitAsync(a, k % 10, 0, 10000));
       const timeout = waitAsync(a, 20, 0, 30);
       setTimeout(() => { for (let i = 0; i < 10; i++) { Atomics.store(a, i, 1); wake(a, i); } }, 20);
       const results = await Promise.all(ws.map((w) => w.value));
       console.log(results.filter((x) => x === 'ok').length, await timeout.value, pendingAsyncWaits());`,
      { CONC_SHM_NO_WAITV: '1' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('50 timed-out 0');
  });

  it('a pending wait keeps the process alive until it settles; none pending keeps nothing alive', () => {
    const kept = runModule(
      `import { createRegion, waitAsync } from '@conc/shm';
       const a = new Int32Array(createRegion(64).buffer);
       waitAsync(a, 0, 0, 300).value.then((r) => console.log(r));`,
    );
    expect(kept.stdout).toBe('timed-out');
    expect(kept.ms).toBeGreaterThanOrEqual(300);
    const free = runModule(
      `import { createRegion, waitAsync, wake } from '@conc/shm';
       const a = new Int32Array(createRegion(64).buffer);
       const w = waitAsync(a, 0, 0);
       setTimeout(() => { Atomics.store(a, 0, 1); wake(a, 0); }, 10);
       console.log(await w.value);
       const c = waitAsync(a, 1, 0);
       c.cancel();
       console.log(await c.value);`,
      {},
      10_000,
    );
    expect(free.signal).toBe(null);
    expect(free.stdout).toBe('ok\ncancelled');
  });

  it('a process with a wait pending forever still exits on process.exit', () => {
    const r = runModule(
      `import { createRegion, waitAsync } from '@conc/shm';
       const a = new Int32Array(createRegion(64).buffer);
       waitAsync(a, 0, 0);
       setTimeout(() => process.exit(3), 50);`,
    );
    expect(r.status).toBe(3);
  });
});
