// @conc/semaphore rows: Semaphore ping-pong between two threads against
// Python's threading.Semaphore and a raw spin-then-park SAB ping-pong;
// uncontended acquire/release against Python's; memory per Semaphore.
import { BoundedSemaphore, Semaphore } from '@conc/semaphore';
import { python, rate, report, sharedBytes } from '../harness.mjs';
import { inTurns, pingPongRate, pythonPingPong, rawPingPongRate } from './event.mjs';

const workers = new URL('./semaphore.workers.mjs', import.meta.url).href;

export default async function () {
  const n = 200_000;
  const [ours, raw, py] = await inTurns(5, [
    () => {
      const [a, b] = [new Semaphore(0), new Semaphore(0)];
      return pingPongRate(workers, 'semaphorePingPong', [a, b], [b, a], n);
    },
    () => rawPingPongRate(workers, n),
    () =>
      pythonPingPong(
        'a, b = threading.Semaphore(0), threading.Semaphore(0)',
        'b.release(); a.acquire()',
        'b.acquire(); a.release()',
        20_000,
      ),
  ]);
  report(
    'Semaphore ping-pong between 2 threads (round trips/s)',
    { label: 'conc Semaphore (acquireSync)', value: ours },
    [
      { label: 'raw SAB, spin 2000 then park', value: raw, target: { min: 0.3 } },
      { label: 'Python threading.Semaphore', value: py, skipped: 'python3 not found', target: { min: 10 } },
    ],
  );

  const sem = new Semaphore(1);
  const bounded = new BoundedSemaphore(1);
  const sync = await rate((k) => {
    for (let i = 0; i < k; i++) {
      sem.acquireSync();
      sem.release();
    }
  });
  const boundedSync = await rate((k) => {
    for (let i = 0; i < k; i++) {
      bounded.acquireSync();
      bounded.release();
    }
  });
  const pyUncontended = python(`
import threading, time
s = threading.Semaphore(1); n = 1_000_000
best = 0
for _ in range(3):
    t = time.perf_counter()
    for _ in range(n):
        s.acquire(); s.release()
    best = max(best, n / (time.perf_counter() - t))
print(best)`);
  report('Semaphore acquireSync + release, 1 thread, uncontended (pairs/s)', { label: 'conc Semaphore', value: sync }, [
    { label: 'Python threading.Semaphore', value: pyUncontended, skipped: 'python3 not found' },
  ]);
  report(
    'BoundedSemaphore acquireSync + release, uncontended (pairs/s)',
    { label: 'conc BoundedSemaphore', value: boundedSync },
    [{ label: 'Python threading.Semaphore', value: pyUncontended, skipped: 'python3 not found' }],
  );
  const asyncRate = await rate(async (k) => {
    for (let i = 0; i < k; i++) {
      await sem.acquire();
      sem.release();
    }
  });
  report('Semaphore acquire (async) + release, uncontended (pairs/s)', { label: 'conc Semaphore', value: asyncRate }, [
    { label: 'Python threading.Semaphore (sync)', value: pyUncontended, skipped: 'python3 not found' },
  ]);

  const before = sharedBytes();
  const many = [];
  for (let i = 0; i < 100_000; i++) many.push(new Semaphore(2));
  const perSemaphore = (sharedBytes() - before) / many.length;
  report(
    'Shared memory per Semaphore, 100 k Semaphores (bytes)',
    { label: 'conc Semaphore', value: perSemaphore },
    [{ label: 'budget in BENCHMARKS.md', value: 256, target: { max: 1 } }],
    'bytes',
  );
}
