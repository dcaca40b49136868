/**
 * How a Condition spins: its policy, apart from the ticket queue's algorithm
 * (queue.ts). Nothing here is needed for correctness; every function only
 * decides how long to poll before parking, or who takes the lock first.
 *
 *   - The blocking paths (the wait for SERVED, taking the lock in
 *     acquireSync and on the way back from a wait) poll with the budget of
 *     one AdaptiveSpin (@conc/core's spin.ts) per Condition object, that
 *     is per thread: with a core each, two threads handing off find each
 *     other while spinning; with more runnable threads than cores, spins
 *     fail, the budget shrinks, and a wait parks almost at once.
 *   - The first wait after a notify that woke a parked thread spins longer
 *     (SPIN_WAKE), while spins succeed (or as the AdaptiveSpin's probe).
 *   - Taking the lock: at once only if no woken waiter is still on its way
 *     back (PENDING == 0); else poll, leaving the lock to the woken waiters
 *     for the first half of the budget, then take it like anyone. (A thread
 *     that barges in right after its own notify usually finds nothing to
 *     do and waits, while the woken one waits for the lock.) Polls test the
 *     lock before the compare-and-swap: a failed CAS still takes the cache
 *     line from the holder, which then has to take it back to release.
 *   - Async paths poll SPIN_ASYNC times at most and never adapt (their
 *     thread has an event loop to run).
 */
import { AdaptiveSpin, SPIN_ASYNC, SPIN_SYNC } from '@conc/core';
import type { Lock, RLock } from '@conc/lock';
import { isServed, PENDING } from './queue.js';

/** The lock a Condition is bound to. */
export type ConditionLock = Lock | RLock;

/**
 * The spin of the first wait after a notify that woke a parked thread (about
 * 1 ms): that thread is usually the one that will notify back, and coming
 * back from a park can take 100-300 us here (a vCPU left idle). A shorter
 * spin parks too, and then every hand-off pays a park and a wake: a chain
 * that ran the ping-pong at a fiftieth of its speed. Only while the thread's
 * budget is at least SPIN_START (its spins succeed: it has a core), or as a
 * probe when its budget is at the floor (AdaptiveSpin.long: the only way out
 * of two threads that both park at every hand-off), and with a timeout of
 * 50 ms or more (the spin comes on top of it); a long spin that ends in a
 * park halves the budget like any other, which stops long spins until
 * spins succeed again (on a loaded machine they hurt).
 */
const SPIN_WAKE = 64 * SPIN_SYNC;

/** A Condition's spinning, in one thread (see the top of handoff.ts). */
export class Handoff extends AdaptiveSpin {
  /** This thread's last notify woke a parked thread. */
  wokeParked = false;

  /**
   * Polls of the wait for SERVED of a wait with this timeout (0: none);
   * clears the wake mark. Report the end with `untilServed`.
   */
  forWait(timeout: number): number {
    if (timeout === 0) return 0;
    if (!this.wokeParked) return this.polls();
    this.wokeParked = false;
    return timeout >= 50 ? this.long(SPIN_WAKE) : this.polls();
  }

  /** Poll until ticket `t` is served, `spins` (from forWait) times at most; adapts the budget. */
  untilServed(w: Int32Array, t: number, spins: number): boolean {
    for (let i = 0; i < spins; i++) if (isServed(w, t)) return this.record(true, spins);
    if (spins > 0) this.record(false, spins);
    return false;
  }

  /** The lock now (re-entry, or free with no woken waiter on its way back), or after a polite spin. */
  acquire(lock: ConditionLock, w: Int32Array, spins: number): boolean {
    if (Atomics.load(w, PENDING) <= 0 && !lock.locked && lock.tryAcquire()) return true;
    const polite = spins >> 1;
    let got = false;
    for (let i = 0; i < polite && !got; i++) got = Atomics.load(w, PENDING) <= 0 && !lock.locked && lock.tryAcquire();
    if (!got) got = spinAcquire(lock, spins - polite);
    return this.record(got, spins); // a short (async) spin that failed changes nothing (spin.ts)
  }

  /** Take the lock back after a wait: the notifier usually lets go of it a moment after notifying. */
  reacquire(lock: ConditionLock): boolean {
    return this.record(spinAcquire(lock, this.budget));
  }
}

/** Take `lock` if it is free now, or becomes free within `spins` polls (test before the CAS). */
export function spinAcquire(lock: ConditionLock, spins: number): boolean {
  for (let i = 0; i <= spins; i++) if (!lock.locked && lock.tryAcquire()) return true;
  return false;
}

/** The async wait's spin for its ticket: SPIN_ASYNC polls, never adapted. */
export function servedSoon(w: Int32Array, t: number): boolean {
  for (let i = 0; i < SPIN_ASYNC; i++) if (isServed(w, t)) return true;
  return false;
}

/** Take the lock back after an async wait: a short poll, never adapted. */
export function reacquireAsync(lock: ConditionLock): boolean {
  return spinAcquire(lock, SPIN_ASYNC);
}
