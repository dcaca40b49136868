/**
 * One side of a queue: the producers (putters) or the consumers (getters).
 * Both sides are the same machine over different words, so the queue is
 * written once for both:
 *
 *   - the side's lock (PUT_LOCK, GET_LOCK): core's named futex (futex.ts), its
 *     word naming the holder, so that a holder that dies in its locked section
 *     is taken over and the section repaired (sections.ts recover); its async
 *     waiters are counted ASYNC_LOCKERS words after it;
 *   - its sleepers, waiting for the OTHER side to act (a get makes room for
 *     putters, a put brings an item to getters): an eventcount (NOT_FULL,
 *     NOT_EMPTY), a SLEEPY flag and a count of sleepers.
 *
 * Sleeping (no lost wake-up, see the top of queue.ts): read the eventcount,
 * raise the flag, re-check the condition, park while the eventcount still
 * holds what was read. Waking (done by the other side after it acted): if the
 * flag was raised, clear it, bump the eventcount and wake every sleeper: one
 * notify per sleep, not per item. The sleepers count is bookkeeping only (no
 * decision reads it); tests read it through {@link Side.sleepers} to know that
 * N callers are asleep before they act.
 */
import {
  type WaitResult,
  namedHolder,
  namedLockSync,
  namedTakeOrMark,
  namedTakeOver,
  namedTryLock,
  namedUnlock,
  namedWaitFreeAsync,
  waitAsync,
  waitSync,
  wake,
} from '@conc/core';
import { ASYNC_LOCKERS } from './layout.js';

/** This thread's word in a queue lock it holds (core's named futex). */
export const HELD = namedHolder();

export class Side {
  // Plain fields set once, in this order, by the one constructor: every Side
  // has the same hidden class, so the loads on the put/get path stay
  // monomorphic (and the async-count index is computed here, not per unlock).
  private readonly w: Int32Array;
  /** @internal the index of the side's lock word (tests hold it to wedge the side) */
  readonly lock: number;
  /** The index of the lock's count of async waiters (ASYNC_LOCKERS words after it). */
  private readonly asyncAt: number;
  private readonly sleepy: number;
  private readonly event: number;
  private readonly count: number;

  constructor(w: Int32Array, lock: number, sleepy: number, event: number, count: number) {
    this.w = w;
    this.lock = lock;
    this.asyncAt = lock + ASYNC_LOCKERS;
    this.sleepy = sleepy;
    this.event = event;
    this.count = count;
  }

  // ---- the lock ---------------------------------------------------------------

  /** Take the lock if it is free. */
  tryLock(): boolean {
    return namedTryLock(this.w, this.lock, HELD);
  }

  /** Blocking slow path of a take: core's LOCK_ACQUIRED, LOCK_TOOK_OVER (the caller must repair) or LOCK_TIMED_OUT. */
  lockSync(deadline: number): number {
    return namedLockSync(this.w, this.lock, HELD, deadline);
  }

  /** Async take, step 1: take the lock if free (0), else the word to wait on (core's namedTakeOrMark). */
  takeOrMark(waited: boolean): number {
    return namedTakeOrMark(this.w, this.lock, HELD, waited);
  }

  /** Async take, step 2: wait without taking until the word leaves `v`; true if its holder is gone. */
  waitFree(v: number, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    return namedWaitFreeAsync(this.w, this.lock, v, deadline, signal, this.asyncAt);
  }

  /** Async take, step 3 (its holder gone): take the lock over from word `v`; the caller must repair. */
  takeOver(v: number): boolean {
    return namedTakeOver(this.w, this.lock, v, HELD);
  }

  unlock(): void {
    namedUnlock(this.w, this.lock, this.asyncAt);
  }

  // ---- the sleepers -----------------------------------------------------------

  /** Wake every sleeper, once: the flag is raised again by whoever goes back to sleep. */
  wake(): void {
    const w = this.w;
    if (Atomics.load(w, this.sleepy) !== 0 && Atomics.exchange(w, this.sleepy, 0) !== 0) {
      Atomics.add(w, this.event, 1);
      wake(w, this.event);
    }
  }

  /** Wake every sleeper, flag or not (a shutdown: they re-check and leave). */
  wakeAll(): void {
    const w = this.w;
    Atomics.store(w, this.sleepy, 0);
    Atomics.add(w, this.event, 1);
    wake(w, this.event);
  }

  /**
   * Going to sleep: read the eventcount, then raise the flag; the caller
   * re-checks, parks on the value returned, and calls {@link leave}. In that
   * order: whoever clears the flag bumps the eventcount after, so a sleeper
   * whose flag was taken by a wake-up meant for others still finds the
   * eventcount changed and does not sleep through the next item.
   */
  sleep(): number {
    const w = this.w;
    Atomics.add(w, this.count, 1);
    const seq = Atomics.load(w, this.event);
    Atomics.store(w, this.sleepy, 1);
    return seq;
  }

  /** Park the thread while the eventcount is `seq` (after {@link sleep} and a re-check). */
  parkSync(seq: number, deadline: number): WaitResult {
    return waitSync(this.w, this.event, seq, deadline, 0);
  }

  /** Park without blocking while the eventcount is `seq`. */
  parkAsync(seq: number, deadline: number, signal: AbortSignal | undefined): WaitResult | Promise<WaitResult> {
    return waitAsync(this.w, this.event, seq, deadline, signal, 0);
  }

  /** Awake again (after {@link sleep}, however the park ended). */
  leave(): void {
    Atomics.sub(this.w, this.count, 1);
  }

  /** @internal for tests: how many callers of this side are asleep (between sleep and leave). */
  sleepers(): number {
    return Atomics.load(this.w, this.count);
  }
}
