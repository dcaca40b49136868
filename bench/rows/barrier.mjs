// @conc/barrier row: rounds of a Barrier(2) between two threads against
// Python's threading.Barrier (no target in BENCHMARKS.md: for information).
import { Barrier } from '@conc/barrier';
import { Thread } from '@conc/thread';
import { median, python, report } from '../harness.mjs';

const workers = new URL('./condition.workers.mjs', import.meta.url).href;

async function rounds(n) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const barrier = new Barrier(2);
  const target = { module: workers, export: 'barrierRounds' };
  const threads = [0, 1].map(() => new Thread({ target, args: [barrier, go, n] }).start());
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, Atomics.load(go, 0), 5);
  const t = performance.now();
  for (const th of threads) await th.join();
  return (n * 1000) / (performance.now() - t);
}

export default async function () {
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await rounds(100_000));
  const py = python(`
import threading, time
n = 20000
b = threading.Barrier(2)
def run():
    for _ in range(n):
        b.wait()
ts = [threading.Thread(target=run) for _ in range(2)]
start = time.perf_counter()
for t in ts: t.start()
for t in ts: t.join()
print(n / (time.perf_counter() - start))`);
  report('Barrier(2) rounds between 2 threads (rounds/s)', { label: 'conc Barrier (waitSync)', value: median(runs) }, [
    { label: 'Python threading.Barrier', value: py, skipped: 'python3 not found' },
  ]);
}
