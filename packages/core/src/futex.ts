/**
 * The three-state futex mutex word, shared by Lock, RLock and anything else
 * that needs a mutex inside its own state (Condition, Queue, ...).
 *
 *   0 = unlocked, 1 = locked with no waiters, 2 = locked, maybe waiters.
 *
 *   lock:   CAS 0 -> 1 (fast path). Else spin a little (SPIN_MUTEX polls)
 *           while the word is 1, retrying the CAS when it reads 0, and stop
 *           at once when it reads 2 (contended: park, see SPIN_MUTEX); then
 *           loop { if exchange(2) was 0 we own it (2 over-estimates
 *           waiters, which is safe); else park while the word is 2 }.
 *   unlock: exchange(0); if it was 2, notify one parked waiter.
 *
 * Invariants: held iff word != 0. Every parked waiter parked on 2 after
 * writing 2, so the unlock that follows sees 2 and notifies: no lost wake-up.
 * A timed-out or aborted waiter may leave a stale 2, which costs one spare
 * notify. Not fair: a newcomer may barge past a woken waiter.
 *
 * Robust variant (robustLockSync / robustLockAsync, for Lock, RLock and the
 * internal locks of other primitives): the holder writes its thread token into
 * an owner word right after taking the futex and clears it right before
 * releasing. A waiter parks in slices of ROBUST_CHECK_MS; before each park it
 * reads the owner, asks `gone(owner)` (liveness.ts: has that thread ended /
 * died?) and if so takes the lock over with CAS(owner: dead -> me), so
 * exactly one waiter inherits it (the futex word stays held: it is now the
 * new holder's). The caller learns that it took over (TOOK_OVER) and flags
 * the holding as abandoned. A holder that dies between taking the futex and
 * writing its token (a few instructions) is not detected.
 */
import { throwIfAborted, waitAsync, waitSync } from './wait.js';
import { currentThreadToken } from './identity.js';

/**
 * Spinning is for hand-offs, not for mutexes: a waiter that spins on a
 * contended word wins it back and forth with the holder at every release, a
 * cache-line ping-pong that cut two-thread throughput to a third. So (as
 * Rust's futex mutex) spin only while the lock is held with no waiters, a
 * little, and park at once when it is contended. A fixed count, not an
 * AdaptiveSpin (spin.ts): it is too short to be worth adapting.
 */
const SPIN_MUTEX = 20;

/** Futex word: free. */
export const FUTEX_UNLOCKED = 0;
/** Futex word: held, no thread parked. */
export const FUTEX_LOCKED = 1;
/** Futex word: held, threads may be parked (the unlock must notify). */
export const FUTEX_CONTENDED = 2;

/** Take the futex at `w[i]` if free. */
export function futexTryLock(w: Int32Array, i: number): boolean {
  return Atomics.compareExchange(w, i, FUTEX_UNLOCKED, FUTEX_LOCKED) === FUTEX_UNLOCKED;
}

/** Slow path of a blocking lock: spin, then park until taken or `deadline`. */
export function futexLockSync(w: Int32Array, i: number, deadline: number): boolean {
  for (let n = 0; n < SPIN_MUTEX; n++) {
    const s = Atomics.load(w, i);
    if (s === FUTEX_UNLOCKED && futexTryLock(w, i)) return true;
    if (s === FUTEX_CONTENDED) break;
  }
  while (Atomics.exchange(w, i, FUTEX_CONTENDED) !== FUTEX_UNLOCKED) {
    if (waitSync(w, i, FUTEX_CONTENDED, deadline, 0) === 'timed-out') return false;
  }
  return true;
}

/*
 * Async waiters and the single wake-up. An unlock wakes ONE parked waiter, in
 * FIFO order across sync and async waiters. If that one is an async waiter
 * whose thread cannot run its continuation (its event loop is busy, or it is
 * blocked in acquireSync on this very lock), the wake-up is spent on a thread
 * that cannot use it, and a sync waiter may sleep on a free lock: with
 * `lock.acquire()` pending, `lock.acquireSync()` on the same thread would
 * deadlock. So async waiters count themselves in a second word (`asyncCount`)
 * while they wait, and an unlock that sees a non-zero count wakes everyone;
 * the losers re-park. The count is raised before the waiter's exchange(2),
 * so an unlock that sees the 2 also sees the count (all Atomics are seq-cst).
 */

/** Wake after an unlock: one waiter, or all while async waiters are counted. */
function wake(w: Int32Array, i: number, asyncCount: number | undefined): void {
  Atomics.notify(w, i, asyncCount !== undefined && Atomics.load(w, asyncCount) > 0 ? Number.POSITIVE_INFINITY : 1);
}

/**
 * Slow path of an async lock: park with waitAsync until taken, `deadline` or
 * abort. `asyncCount` is the index of a word counting async waiters, which
 * the matching {@link futexUnlock} must be given too.
 */
export async function futexLockAsync(
  w: Int32Array,
  i: number,
  deadline: number,
  signal?: AbortSignal,
  asyncCount?: number,
): Promise<boolean> {
  throwIfAborted(signal);
  if (asyncCount !== undefined) Atomics.add(w, asyncCount, 1);
  try {
    while (Atomics.exchange(w, i, FUTEX_CONTENDED) !== FUTEX_UNLOCKED) {
      const r = await waitAsync(w, i, FUTEX_CONTENDED, deadline, signal, 0);
      if (signal?.aborted) {
        // We may have been woken by an unlock just as the signal aborted: pass
        // that wake-up on, or another parked waiter would sleep on a free lock.
        if (r === 'ok') wake(w, i, asyncCount);
        throw signal.reason;
      }
      if (r === 'timed-out') return false;
    }
    return true;
  } finally {
    if (asyncCount !== undefined) Atomics.sub(w, asyncCount, 1);
  }
}

/**
 * Unlock; returns the previous state (0 means it was not locked; the word
 * stays 0). Pass the same `asyncCount` index as {@link futexLockAsync}.
 */
export function futexUnlock(w: Int32Array, i: number, asyncCount?: number): number {
  const prev = Atomics.exchange(w, i, FUTEX_UNLOCKED);
  if (prev === FUTEX_CONTENDED) wake(w, i, asyncCount);
  return prev;
}

/** How often (ms) a parked robust waiter checks whether the holder has ended. */
export const ROBUST_CHECK_MS = 100;
/** robustLock result: timed out. */
export const LOCK_TIMED_OUT = 0;
/** robustLock result: taken normally. */
export const LOCK_ACQUIRED = 1;
/** robustLock result: taken over from a holder that had ended (the holding is abandoned). */
export const LOCK_TOOK_OVER = 2;

/** Take the futex at `w[i]` if free, writing the caller's token to `w[owner]`. */
export function robustTryLock(w: Int32Array, i: number, owner: number): boolean {
  if (Atomics.compareExchange(w, i, FUTEX_UNLOCKED, FUTEX_LOCKED) !== FUTEX_UNLOCKED) return false;
  Atomics.store(w, owner, currentThreadToken());
  return true;
}

/** If the holder named in w[owner] is gone, make the caller the holder; true if it did. */
function takeOver(w: Int32Array, owner: number, gone: (token: number) => boolean): boolean {
  const holder = Atomics.load(w, owner);
  return holder !== 0 && gone(holder) && Atomics.compareExchange(w, owner, holder, currentThreadToken()) === holder;
}

/**
 * Blocking robust lock (see the top of this file): 1 taken, 2 taken over from
 * a holder that `gone` says has ended, 0 timed out. `spins`: polls while it
 * is held with no waiters before parking (default SPIN_MUTEX; an internal
 * lock held only for a few loads and stores may spin longer).
 */
export function robustLockSync(
  w: Int32Array,
  i: number,
  owner: number,
  deadline: number,
  gone: (token: number) => boolean,
  spins: number = SPIN_MUTEX,
): number {
  for (let n = 0; n < spins; n++) {
    const s = Atomics.load(w, i);
    if (s === FUTEX_UNLOCKED && robustTryLock(w, i, owner)) return LOCK_ACQUIRED;
    if (s === FUTEX_CONTENDED) break;
  }
  while (Atomics.exchange(w, i, FUTEX_CONTENDED) !== FUTEX_UNLOCKED) {
    if (takeOver(w, owner, gone)) return LOCK_TOOK_OVER;
    const slice = Math.min(deadline, performance.now() + ROBUST_CHECK_MS);
    if (waitSync(w, i, FUTEX_CONTENDED, slice, 0) === 'timed-out' && slice === deadline) return LOCK_TIMED_OUT;
  }
  Atomics.store(w, owner, currentThreadToken());
  return LOCK_ACQUIRED;
}

/** Async robust lock: as {@link robustLockSync}, with an abort signal and the async waiter count of {@link futexLockAsync}. */
export async function robustLockAsync(
  w: Int32Array,
  i: number,
  owner: number,
  deadline: number,
  gone: (token: number) => boolean,
  signal?: AbortSignal,
  asyncCount?: number,
): Promise<number> {
  throwIfAborted(signal);
  if (asyncCount !== undefined) Atomics.add(w, asyncCount, 1);
  try {
    while (Atomics.exchange(w, i, FUTEX_CONTENDED) !== FUTEX_UNLOCKED) {
      if (takeOver(w, owner, gone)) return LOCK_TOOK_OVER;
      const slice = Math.min(deadline, performance.now() + ROBUST_CHECK_MS);
      const r = await waitAsync(w, i, FUTEX_CONTENDED, slice, signal, 0);
      if (signal?.aborted) {
        if (r === 'ok') wake(w, i, asyncCount);
        throw signal.reason;
      }
      if (r === 'timed-out' && slice === deadline) return LOCK_TIMED_OUT;
    }
    Atomics.store(w, owner, currentThreadToken());
    return LOCK_ACQUIRED;
  } finally {
    if (asyncCount !== undefined) Atomics.sub(w, asyncCount, 1);
  }
}

/** Robust unlock: clear the owner word, then {@link futexUnlock}. */
export function robustUnlock(w: Int32Array, i: number, owner: number, asyncCount?: number): number {
  Atomics.store(w, owner, 0);
  return futexUnlock(w, i, asyncCount);
}

// ---- Added for @conc/condition (issue 10): a lock word that names its holder ----
//
// A futex mutex whose word is its holder's id: 0 free, else id << 1, with bit
// 0 set while waiters may be parked (the robust lock above with the owner
// word folded into the lock word). One CAS takes it and names the holder, so
// an internal lock held for a few loads and stores (Condition's queue lock)
// costs one RMW each way. Ids are positive and below 2^30 (core's
// threadLivenessId: the OS thread, never a token the broker runs as).
// A waiter spins `spins` polls while no waiter is parked, then parks in
// slices of `slice` ms; a slice that ends with the same holder in the word
// asks `gone(holder)`, and if so takes the word over by CAS (one taker) and
// returns the dead holder's id: the caller repairs what the holder's section
// may have left half done. A holder that dies is detected within a slice or
// two of its end.

/** The word of a named lock held by `id`, with no waiter parked. */
function namedHeld(id: number): number {
  return id << 1;
}

/** Take the named lock at `w[i]` as `id` if it is free. */
export function namedTryLock(w: Int32Array, i: number, id: number): boolean {
  return Atomics.compareExchange(w, i, 0, namedHeld(id)) === 0;
}

/**
 * Take the named lock at `w[i]` as `id`, waiting as long as it takes:
 * returns 0, or the id of a holder that `gone` said had ended and that the
 * caller took the lock over from (the lock is the caller's either way).
 */
export function namedLockSync(
  w: Int32Array,
  i: number,
  id: number,
  gone: (id: number) => boolean,
  slice: number,
  spins: number,
): number {
  const mine = namedHeld(id);
  if (Atomics.compareExchange(w, i, 0, mine) === 0) return 0;
  for (let n = 0; n < spins; n++) {
    const v = Atomics.load(w, i);
    if (v === 0 && Atomics.compareExchange(w, i, 0, mine) === 0) return 0;
    if (v & 1) break;
  }
  for (;;) {
    let v = Atomics.load(w, i);
    if (v === 0) {
      if (Atomics.compareExchange(w, i, 0, mine | 1) === 0) return 0;
      continue;
    }
    if ((v & 1) === 0) {
      if (Atomics.compareExchange(w, i, v, v | 1) !== v) continue;
      v |= 1;
    }
    if (
      waitSync(w, i, v, performance.now() + slice, 0) === 'timed-out' &&
      gone(v >>> 1) &&
      Atomics.compareExchange(w, i, v, mine | 1) === v
    ) {
      return v >>> 1;
    }
  }
}

/** Release the named lock at `w[i]`, waking one waiter if any may be parked. */
export function namedUnlock(w: Int32Array, i: number): void {
  if (Atomics.exchange(w, i, 0) & 1) Atomics.notify(w, i, 1);
}
