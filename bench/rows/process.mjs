// @conc/process rows: the document's producer/consumer (100 000 ints from a
// producer process to a consumer process through a Queue the parent owns) vs
// Python's multiprocessing.Queue; Process start to first line of the target
// vs a raw child_process.fork; a cross-process Lock round trip vs Python's
// multiprocessing.Lock (reported as measured: ours is a socket round trip to
// the owner's broker thread, Python's is a semaphore in shared memory).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { python, repeat, report } from '../harness.mjs';

const workers = new URL('./process.workers.mjs', import.meta.url).href;
const N = 100_000;

async function queueRate() {
  const q = new Queue();
  const done = new Queue();
  const t = performance.now();
  const c = new Process({ target: { module: workers, export: 'consume' }, args: [q, done] }).start();
  const p = new Process({ target: { module: workers, export: 'produce' }, args: [q, N] }).start();
  await p.join();
  const count = await done.get();
  await c.join();
  if (count !== N) throw new Error(`lost items: ${count} != ${N}`);
  return (N * 1000) / (performance.now() - t);
}

export default async function () {
  const ours = await repeat(queueRate, 3);
  const py = python(`
import multiprocessing as mp, time
def producer(q, n):
    for i in range(n): q.put(i)
    q.put(None)
def consumer(q):
    while q.get() is not None: pass
if __name__ == '__main__':
    n = ${N}; best = 0
    for _ in range(3):
        q = mp.Queue()
        t = time.perf_counter()
        a = mp.Process(target=producer, args=(q, n)); b = mp.Process(target=consumer, args=(q,))
        a.start(); b.start(); a.join(); b.join()
        best = max(best, n / (time.perf_counter() - t))
    print(best)`);
  report('Queue, 100 000 ints producer process -> consumer process (items/s, incl. start)', { label: 'conc Queue + Process', value: ours }, [
    { label: 'Python multiprocessing.Queue', value: py, skipped: 'python3 not found', target: { min: 2 } },
  ]);

  const dir = mkdtempSync(join(tmpdir(), 'conc-bench-'));
  const raw = join(dir, 'raw.cjs');
  writeFileSync(raw, "require('fs').writeFileSync(process.argv[2], String(performance.timeOrigin + performance.now()));\n");
  let k = 0;
  const startOurs = async () => {
    const f = join(dir, `t${k++}`);
    const t0 = performance.timeOrigin + performance.now();
    const p = new Process({ target: { module: workers, export: 'firstLine' }, args: [f] }).start();
    await p.join();
    return Number(readFileSync(f, 'utf8')) - t0;
  };
  const startRaw = async () => {
    const f = join(dir, `t${k++}`);
    const t0 = performance.timeOrigin + performance.now();
    const c = fork(raw, [f]);
    await new Promise((r) => c.on('exit', r));
    return Number(readFileSync(f, 'utf8')) - t0;
  };
  await startOurs();
  await startRaw();
  const sOurs = await repeat(startOurs, 9);
  const sRaw = await repeat(startRaw, 9);
  rmSync(dir, { recursive: true, force: true });
  report('Process start to first line of the target (ms, lower is better)', { label: 'conc Process', value: sOurs }, [
    { label: 'raw child_process.fork', value: sRaw, target: { max: 1.15 } },
  ], 'ms');

  const lock = new Lock();
  const out = new Queue();
  const lockOurs = await repeat(async () => {
    const p = new Process({ target: { module: workers, export: 'lockRoundTrips' }, args: [lock, 3000, out] }).start();
    const r = await out.get();
    await p.join();
    return r;
  }, 3);
  const pyLock = python(`
import multiprocessing as mp, time
def work(l, n, q):
    t = time.perf_counter()
    for _ in range(n):
        l.acquire(); l.release()
    q.put(n / (time.perf_counter() - t))
if __name__ == '__main__':
    l = mp.Lock(); q = mp.Queue()
    p = mp.Process(target=work, args=(l, 200000, q)); p.start(); r = q.get(); p.join()
    print(r)`);
  report('Lock acquire + release from a child process (pairs/s)', { label: 'conc Lock (socket to broker)', value: lockOurs }, [
    { label: 'Python multiprocessing.Lock (shm)', value: pyLock, skipped: 'python3 not found' },
  ]);
}
