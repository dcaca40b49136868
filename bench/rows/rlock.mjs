// @conc/lock RLock rows: uncontended acquire+release (once, and re-entered),
// against conc's Lock and Python's threading.RLock in the same run. The
// RLock's bookkeeping (owner and depth words) is what a Condition() over its
// default RLock pays at every hand-off. No target in BENCHMARKS.md: for information.
import { Lock, RLock } from '@conc/lock';
import { python, rate, report } from '../harness.mjs';

/** Python's RLock acquire+release pairs/s, best of 3 (re-entered: while the thread holds it once already). */
function pythonRLock(nested) {
  return python(`
import threading, time
lock, pairs, best = threading.RLock(), 2_000_000, 0
if ${nested ? 'True' : 'False'}: lock.acquire()
for _ in range(3):
    start = time.perf_counter()
    for _ in range(pairs):
        lock.acquire(); lock.release()
    best = max(best, pairs / (time.perf_counter() - start))
print(best)`);
}

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
  const py = pythonRLock(false);
  const pyNested = pythonRLock(true);
  report('RLock acquireSync + release, 1 thread, uncontended (pairs/s)', { label: 'conc RLock', value: ours }, [
    { label: 'conc Lock', value: plain },
    { label: 'Python threading.RLock', value: py, skipped: 'python3 not found' },
  ]);
  report(
    'RLock re-entered: acquireSync + release while already held (pairs/s)',
    { label: 'conc RLock', value: nested },
    [{ label: 'Python threading.RLock, re-entered', value: pyNested, skipped: 'python3 not found' }],
  );
}
