// @conc/lock RLock rows: uncontended acquire+release (once, and re-entered),
// against conc's Lock and Python's threading.RLock in the same run. The
// RLock's bookkeeping (owner and depth words) is what a Condition() over its
// default RLock pays at every hand-off. No target in BENCHMARKS.md: for information.
import { Lock, RLock } from '@conc/lock';
import { python, rate, report } from '../harness.mjs';

export default async function () {
  const rlock = new RLock();
  const lock = new Lock();
  const ours = await rate((n) => {
    for (let i = 0; i < n; i++) {
      rlock.acquireSync();
      rlock.release();
    }
  });
  const plain = await rate((n) => {
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
  });
  const nested = await rate((n) => {
    rlock.acquireSync();
    for (let i = 0; i < n; i++) {
      rlock.acquireSync();
      rlock.release();
    }
    rlock.release();
  });
  const py = python(`
import threading, time
l = threading.RLock(); n = 3_000_000
best = 0
for _ in range(3):
    t = time.perf_counter()
    for _ in range(n):
        l.acquire(); l.release()
    best = max(best, n / (time.perf_counter() - t))
print(best)`);
  report('RLock acquireSync + release, 1 thread, uncontended (pairs/s)', { label: 'conc RLock', value: ours }, [
    { label: 'conc Lock', value: plain },
    { label: 'Python threading.RLock', value: py, skipped: 'python3 not found' },
  ]);
  report(
    'RLock re-entered: acquireSync + release while already held (pairs/s)',
    { label: 'conc RLock', value: nested },
    [{ label: 'Python threading.RLock (not re-entered)', value: py, skipped: 'python3 not found' }],
  );
}
