// @conc/lock rows: uncontended sync and async, two threads under a lock,
// memory per Lock; and Thread start (it is what the lock rows stand on).
import { Worker } from 'node:worker_threads';
import { Mutex } from 'async-mutex';
import { Lock } from '@conc/lock';
import { Thread } from '@conc/thread';
import { python, rate, repeat, report, sharedBytes } from '../harness.mjs';
import { rawLock, rawUnlock } from './lock.workers.mjs';

const workers = new URL('./lock.workers.mjs', import.meta.url).href;

async function twoThreads(kind, n) {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const go = new Int32Array(new SharedArrayBuffer(4));
  const prim = kind === 'conc' ? new Lock() : new Int32Array(new SharedArrayBuffer(4));
  const target = { module: workers, export: kind === 'conc' ? 'incrementConc' : 'incrementRaw' };
  const threads = [0, 1].map(() => new Thread({ target, args: [prim, counter, go, n] }).start());
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, Atomics.load(go, 0), 5);
  const t = performance.now();
  for (const th of threads) await th.join();
  const ms = performance.now() - t;
  if (counter[0] !== 2 * n) throw new Error(`lost increments: ${counter[0]} != ${2 * n}`);
  return (2 * n * 1000) / ms;
}

export default async function () {
  const lock = new Lock();
  const raw = new Int32Array(new SharedArrayBuffer(4));
  const ours = await rate((n) => {
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
  });
  const rawRate = await rate((n) => {
    for (let i = 0; i < n; i++) {
      rawLock(raw);
      rawUnlock(raw);
    }
  });
  const py = python(`
import threading, time
l = threading.Lock(); n = 3_000_000
best = 0
for _ in range(3):
    t = time.perf_counter()
    for _ in range(n):
        l.acquire(); l.release()
    best = max(best, n / (time.perf_counter() - t))
print(best)`);
  report('Lock acquireSync + release, 1 thread, uncontended (pairs/s)', { label: 'conc Lock', value: ours }, [
    { label: 'raw 3-state Atomics mutex', value: rawRate, target: { min: 0.5 } },
    { label: 'Python threading.Lock', value: py, skipped: 'python3 not found', target: { min: 2 } },
  ]);

  const mutex = new Mutex();
  const oursAsync = await rate(async (n) => {
    for (let i = 0; i < n; i++) {
      await lock.acquire();
      lock.release();
    }
  });
  const am = await rate(async (n) => {
    for (let i = 0; i < n; i++) {
      const release = await mutex.acquire();
      release();
    }
  });
  report('Lock acquire (async) + release, uncontended (pairs/s)', { label: 'conc Lock', value: oursAsync }, [
    { label: 'async-mutex 0.5.0', value: am, target: { min: 10 } },
  ]);

  const n = 2_000_000;
  const oursTwo = await repeat(() => twoThreads('conc', n), 3);
  const rawTwo = await repeat(() => twoThreads('raw', n), 3);
  const pyTwo = python(`
import threading, time
l = threading.Lock(); n = 1_000_000; c = [0]
def work():
    for _ in range(n):
        with l:
            c[0] += 1
ts = [threading.Thread(target=work) for _ in range(2)]
t = time.perf_counter()
for x in ts: x.start()
for x in ts: x.join()
print(2 * n / (time.perf_counter() - t))`);
  report('2 threads incrementing under a lock (increments/s, total)', { label: 'conc Lock', value: oursTwo }, [
    { label: 'raw Atomics mutex', value: rawTwo, target: { min: 0.8 } },
    { label: 'Python threading.Lock', value: pyTwo, skipped: 'python3 not found' },
  ]);

  const before = sharedBytes();
  const many = [];
  for (let i = 0; i < 100_000; i++) many.push(new Lock());
  const perLock = (sharedBytes() - before) / many.length;
  report(
    'Shared memory per Lock, 100 k Locks (bytes)',
    { label: 'conc Lock', value: perLock },
    [{ label: 'budget in BENCHMARKS.md', value: 256, target: { max: 1 } }],
    'bytes',
  );

  await threadStart();
}

async function threadStart() {
  const startOurs = () =>
    new Promise((resolve) => {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const t0 = performance.now();
      const th = new Thread({
        target: (f) => {
          Atomics.store(f, 0, 1);
          Atomics.notify(f, 0);
        },
        args: [flag],
      }).start();
      Atomics.wait(flag, 0, 0, 10_000);
      const ms = performance.now() - t0;
      th.join().then(() => resolve(ms));
    });
  const startRaw = () =>
    new Promise((resolve) => {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const t0 = performance.now();
      const w = new Worker(
        "const { workerData: f } = require('node:worker_threads'); Atomics.store(f, 0, 1); Atomics.notify(f, 0);",
        { eval: true, workerData: flag },
      );
      Atomics.wait(flag, 0, 0, 10_000);
      const ms = performance.now() - t0;
      w.on('exit', () => resolve(ms));
    });
  await startOurs();
  await startRaw();
  const ours = await repeat(startOurs, 9);
  const raw = await repeat(startRaw, 9);
  report(
    'Thread start to first line of the target (ms, lower is better)',
    { label: 'conc Thread', value: ours },
    [{ label: 'raw new Worker', value: raw, target: { max: 1.15 } }],
    'ms',
  );
}
