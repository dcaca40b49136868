// Worker threads: a worker maps the region's fd itself (what Node 20 needs: an external
// ArrayBuffer is copied by postMessage); where regions are SharedArrayBuffers, posting works too.
import { Worker } from 'node:worker_threads';
import {
  available,
  closeRegion,
  createRegion,
  pendingAsyncWaits,
  sharedArrayBuffer,
  wait,
  waitAsync,
  wake,
} from '@conc/shm';
import { afterEach, describe, expect, it } from 'vitest';

const fds: number[] = [];
afterEach(() => {
  while (fds.length) closeRegion(fds.pop()!);
});
function region() {
  const r = createRegion(4096);
  fds.push(r.fd);
  return { ...r, words: new Int32Array(r.buffer) };
}

const workerCode = (body: string) =>
  new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const shm = require(${JSON.stringify(new URL('../dist/index.cjs', import.meta.url).pathname)});
     ${body}`,
    { eval: true, workerData: {} },
  );

function exitOf(w: Worker, timeout = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      w.terminate();
      reject(new Error('worker did not exit in time'));
    }, timeout);
    w.on('error', reject);
    w.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

describe.runIf(available)('worker threads', () => {
  it('a worker maps the fd itself: 2 threads x 2e5 Atomics.add = 4e5, and a sync wait in it is woken by the main thread', async () => {
    const { fd, size, words } = region();
    const w = new Worker(
      `const { workerData: d } = require('node:worker_threads');
       const shm = require(${JSON.stringify(new URL('../dist/index.cjs', import.meta.url).pathname)});
       const a = new Int32Array(shm.mapRegion(d.fd, d.size).buffer);
       Atomics.store(a, 1, 1); shm.wake(a, 1);
       for (let i = 0; i < 200000; i++) Atomics.add(a, 0, 1);
       Atomics.store(a, 3, shm.wait(a, 2, 0, 20000) === 'ok' ? 1 : 2);`,
      { eval: true, workerData: { fd, size } },
    );
    const exited = exitOf(w);
    while (Atomics.load(words, 1) === 0) wait(words, 1, 0, 50);
    for (let i = 0; i < 200_000; i++) Atomics.add(words, 0, 1);
    const end = Date.now() + 20_000;
    // A pure wake (word 2 unchanged) until the kernel reports the worker woken.
    while (wake(words, 2, 1) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
    expect(await exited).toBe(0);
    expect(Atomics.load(words, 0)).toBe(400_000);
    expect(Atomics.load(words, 3)).toBe(1);
  });

  it.runIf(sharedArrayBuffer)('where regions are SharedArrayBuffers, a posted buffer is the same memory', async () => {
    const { buffer, words, shared } = region();
    expect(shared).toBe(true);
    expect(buffer).toBeInstanceOf(SharedArrayBuffer);
    const w = workerCode(
      `parentPort.once('message', (b) => { const a = new Int32Array(b); for (let i = 0; i < 1e5; i++) Atomics.add(a, 0, 1); parentPort.close(); });`,
    );
    w.postMessage(buffer);
    for (let i = 0; i < 1e5; i++) Atomics.add(words, 0, 1);
    expect(await exitOf(w)).toBe(0);
    expect(Atomics.load(words, 0)).toBe(2e5);
  });

  it.runIf(!sharedArrayBuffer)(
    'where regions are external ArrayBuffers, postMessage copies them (so workers map the fd)',
    () => {
      const { buffer, shared } = region();
      expect(shared).toBe(false);
      expect(buffer).not.toBeInstanceOf(SharedArrayBuffer);
    },
  );

  it('async waits in a worker resolve there; terminating a worker with a wait pending drops it', async () => {
    const { fd, size, words } = region();
    const w = new Worker(
      `const { workerData: d, parentPort } = require('node:worker_threads');
       const shm = require(${JSON.stringify(new URL('../dist/index.cjs', import.meta.url).pathname)});
       const a = new Int32Array(shm.mapRegion(d.fd, d.size).buffer);
       const first = shm.waitAsync(a, 0, 0, 20000);
       shm.waitAsync(a, 5, 0); // pending forever: terminate must still work
       Atomics.store(a, 1, 1);
       first.value.then((r) => parentPort.postMessage(r));`,
      { eval: true, workerData: { fd, size } },
    );
    const got = new Promise((r) => w.once('message', r));
    const exited = exitOf(w);
    while (Atomics.load(words, 1) === 0) await new Promise((r) => setTimeout(r, 2));
    const mine = waitAsync(words, 6, 0, 20_000);
    Atomics.store(words, 0, 1);
    wake(words, 0);
    expect(await got).toBe('ok');
    await w.terminate();
    await exited;
    // Only this thread's wait is left in the process's helper.
    expect(pendingAsyncWaits()).toBe(1);
    if (mine.async) mine.cancel();
    expect(pendingAsyncWaits()).toBe(0);
  });
});
