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
import { remaining, throwIfAborted, waitAsync, waitSync, wake as notify } from './wait.js';
import { currentThreadToken } from './identity.js';
import { isThreadGone, onLivenessTick, threadLivenessId } from './liveness.js';

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
  notify(w, i, asyncCount !== undefined && Atomics.load(w, asyncCount) > 0 ? Number.POSITIVE_INFINITY : 1);
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

/*
 * Named futex: a lock whose word itself names its holder, for internal locks
 * whose holder may die anywhere in a section that must then be repaired (the
 * Queue's two locks, its shape table). The word is 0 when free, else the
 * holder's liveness id << 1 (liveness.ts threadLivenessId, never 0), with
 * bit 0 (NAMED_CONTENDED) set while waiters may be parked (state 2 above).
 * The take is the one CAS 0 -> held, so there is no window in which the lock
 * is held by nobody known (unlike robustLock's separate owner word).
 *
 *   lock:   CAS 0 -> held. Else spin `spins` polls while held with no mark;
 *           then loop { take it if free (marked contended: we were parked,
 *           others may still be), else mark the word and park on it for a
 *           NAMED_CHECK_MS slice at most; a slice that ran out on the same
 *           word asks isThreadGone(holder) and, if gone, takes the lock over
 *           with CAS(word -> held | 1): one taker, who must repair }.
 *   async:  the same, split so the caller's locked section runs in the very
 *           step that takes the lock (an async function returning "taken"
 *           would resume the caller a microtask late, and a blocking call on
 *           the same lock made by this thread meanwhile would deadlock):
 *           `namedTakeOrMark` (take, or mark and say what to park on),
 *           `namedWaitFreeAsync` (park without taking until the word
 *           changes; liveness is asked on core's tick, not by short
 *           timeouts), `namedTakeOver` (after it said the holder is gone).
 *   unlock: exchange(0); if bit 0 was set, wake one waiter, or all while
 *           async waiters are counted in `asyncCount` (see above).
 *
 * Invariants: as the futex above (a waiter parks only on a marked word, so
 * the unlock that follows sees the mark and wakes). A waiter never parks past
 * its deadline. Only threads that core's liveness table watches are ever
 * found gone; a dead holder it does not watch keeps the lock, and timeouts
 * still expire.
 */

/** Named futex: bit 0 of the word, set while waiters may be parked. */
export const NAMED_CONTENDED = 1;
/** Named futex: the longest park (ms) before a blocking waiter asks whether the holder is gone. */
export const NAMED_CHECK_MS = 25;

/** The named-futex word of a lock the calling thread holds (its liveness id << 1; bit 0 clear). */
export function namedHolder(): number {
  return threadLivenessId() << 1;
}

/** Take the named futex at `w[i]` if free; `held` is {@link namedHolder}(). */
export function namedTryLock(w: Int32Array, i: number, held: number): boolean {
  return Atomics.compareExchange(w, i, 0, held) === 0;
}

/**
 * Take the named futex if it is free (marked contended if `waited`: the caller
 * was parked, others may still be, and only the mark makes the unlock wake one
 * of them) and return 0; else mark it contended and return the word to park on.
 */
export function namedTakeOrMark(w: Int32Array, i: number, held: number, waited: boolean): number {
  for (;;) {
    const v = Atomics.load(w, i);
    if (v === 0) {
      if (Atomics.compareExchange(w, i, 0, waited ? held | NAMED_CONTENDED : held) === 0) return 0;
    } else if (v & NAMED_CONTENDED) {
      return v;
    } else if (Atomics.compareExchange(w, i, v, v | NAMED_CONTENDED) === v) {
      return v | NAMED_CONTENDED;
    }
  }
}

/** If the word is still `v` and its holder's thread is gone, take the lock over (true): the caller repairs. */
export function namedTakeOver(w: Int32Array, i: number, v: number, held: number): boolean {
  return (
    Atomics.load(w, i) === v && isThreadGone(v >>> 1) && Atomics.compareExchange(w, i, v, held | NAMED_CONTENDED) === v
  );
}

/**
 * Slow path of a blocking named lock (see above; the caller tried
 * {@link namedTryLock} first): LOCK_ACQUIRED, LOCK_TOOK_OVER (from a holder
 * that is gone: the caller repairs) or LOCK_TIMED_OUT. Polls `spins` times
 * while the lock is held with no waiter before parking. On a take-over,
 * `from.holder` (if given) is set to the dead holder's liveness id, for a
 * repair that must know whose section it finishes.
 */
export function namedLockSync(
  w: Int32Array,
  i: number,
  held: number,
  deadline: number,
  spins = SPIN_MUTEX,
  from?: { holder: number },
): number {
  for (let n = 0; n < spins; n++) {
    const v = Atomics.load(w, i);
    if (v === 0 && Atomics.compareExchange(w, i, 0, held) === 0) return LOCK_ACQUIRED;
    if (v & NAMED_CONTENDED) break;
  }
  for (;;) {
    const v = namedTakeOrMark(w, i, held, true);
    if (v === 0) return LOCK_ACQUIRED;
    const left = remaining(deadline);
    if (left === 0) return LOCK_TIMED_OUT;
    const slice = performance.now() + Math.min(left, NAMED_CHECK_MS);
    if (waitSync(w, i, v, slice, 0) === 'timed-out' && namedTakeOver(w, i, v, held)) {
      if (from) from.holder = v >>> 1;
      return LOCK_TOOK_OVER;
    }
  }
}

/**
 * Park without blocking while the named futex's word is `v` (as returned by
 * {@link namedTakeOrMark}), until it changes, `deadline` or an abort; counted
 * in `w[asyncCount]` meanwhile (the matching {@link namedUnlock} must be given
 * it too). Core's liveness tick asks meanwhile whether the holder is gone;
 * resolves true if it was (then try {@link namedTakeOver}). Takes nothing:
 * the caller takes the lock with namedTakeOrMark in the step it resumes in.
 */
export async function namedWaitFreeAsync(
  w: Int32Array,
  i: number,
  v: number,
  deadline: number,
  signal: AbortSignal | undefined,
  asyncCount: number,
): Promise<boolean> {
  Atomics.add(w, asyncCount, 1);
  let gone = false;
  // The tick ends the wait by aborting it, not by a wake with the word
  // unchanged: on arena words (the 'shm' backend) such a wake can be missed.
  const ended = new AbortController();
  const stop = onLivenessTick(() => {
    if (!gone && Atomics.load(w, i) === v && isThreadGone(v >>> 1)) {
      gone = true;
      ended.abort();
    }
  });
  try {
    await waitAsync(w, i, v, deadline, signal ? AbortSignal.any([signal, ended.signal]) : ended.signal);
  } finally {
    stop();
    Atomics.sub(w, asyncCount, 1);
  }
  if (signal?.aborted) notify(w, i, 1); // leaving: pass on a wake-up it may have taken
  return gone;
}

/** Unlock the named futex: wake one waiter if the word was marked, or all while async waiters are counted. */
export function namedUnlock(w: Int32Array, i: number, asyncCount?: number): void {
  if (Atomics.exchange(w, i, 0) & NAMED_CONTENDED) wake(w, i, asyncCount);
}
