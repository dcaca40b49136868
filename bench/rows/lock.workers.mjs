// Thread targets for the lock rows (loaded by module reference in the workers).
import { Lock } from '@conc/lock';

/** Raw three-state futex mutex, no spinning: the baseline BENCHMARKS.md measured. */
export function rawLock(w) {
  if (Atomics.compareExchange(w, 0, 0, 1) === 0) return;
  while (Atomics.exchange(w, 0, 2) !== 0) Atomics.wait(w, 0, 2);
}
export function rawUnlock(w) {
  if (Atomics.exchange(w, 0, 0) === 2) Atomics.notify(w, 0, 1);
}

/** Wait at the start line so both workers begin together, then increment n times. */
function startLine(go) {
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, 1, 5);
}

export function incrementConc(lock, counter, go, n) {
  startLine(go);
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    counter[0]++;
    lock.release();
  }
}

export function incrementRaw(word, counter, go, n) {
  startLine(go);
  for (let i = 0; i < n; i++) {
    rawLock(word);
    counter[0]++;
    rawUnlock(word);
  }
}

export { Lock };
