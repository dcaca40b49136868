/**
 * RLock: a re-entrant lock owned by one thread, as Python's `threading.RLock`.
 *
 * Layout: five shared Int32 words.
 *   [0] state: the same three-state futex as Lock (0 free, 1 held, 2 held+waiters)
 *   [1] owner: the holder's thread token (non-zero), 0 when free
 *   [2] count: how many times the owner has acquired without releasing
 *   [3] abandoned: 1 if the current holding took over from an owner that died
 *       (set by @conc/process's broker before it frees the lock, cleared when
 *       the owner's count drops to 0)
 *   [4] async waiters: how many async acquirers are parked (see futex.ts)
 *
 * Algorithm:
 *   acquire: if owner == me, count++ (only the owner writes count while it
 *            owns, so no race). Else take the futex as Lock does, then
 *            owner = me, count = 1.
 *   release: if owner != me, throw. count--; at 0, owner = 0 and release the
 *            futex (exchange 0, notify one if it was 2).
 *
 * Invariants:
 *   - owner != 0 implies state != 0; owner is written only by the thread that
 *     holds the futex, so "owner == me" can only be true for the real owner
 *     (another thread may read a stale owner, but never its own token).
 *   - Owner tokens come from @conc/core's currentThreadToken(): unique per
 *     thread within a process; @conc/process gives remote holders their own.
 *
 * Robustness (futex.ts's robust variant, owner word [1]): a waiter parked in
 * acquire/acquireSync checks every 100 ms whether the owner thread has ended
 * in any way (core's liveness.ts); an RLock can only be released by its owner,
 * so an owner that ended, even normally, can never release it. The waiter
 * takes it over with one CAS on the owner word (exactly one does), sets
 * count = 1 and [3] abandoned = 1.
 */
import {
  Acquirable,
  ConcRuntimeError,
  type SharedWords,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  currentThreadToken,
  deadlineOf,
  describeWords,
  LOCK_TIMED_OUT,
  LOCK_TOOK_OVER,
  futexUnlock,
  registerShareable,
  robustLockAsync,
  robustLockSync,
  threadEnded,
  throwIfAborted,
  wordsView,
} from '@conc/core';
import type { SyncWaitOptions } from './lock.js';

const STATE = 0;
const OWNER = 1;
const COUNT = 2;
const ABANDONED = 3;
/** How many async acquirers are parked (see @conc/core's futex.ts). */
const ASYNC_WAITERS = 4;

/**
 * A re-entrant lock: the thread that holds it may acquire it again, and must
 * release it as many times. Only the owner may release.
 */
export class RLock extends Acquirable {
  /** @internal */
  declare readonly words: Int32Array;

  constructor() {
    super();
    Object.defineProperty(this, 'words', { value: allocateWords(5) });
  }

  /** @internal */
  static revive(data: { words: SharedWords }): RLock {
    const lock = Object.create(RLock.prototype) as RLock;
    Object.defineProperty(lock, 'words', { value: wordsView(data.words) });
    return lock;
  }

  /** True while some thread holds the lock. */
  get locked(): boolean {
    return Atomics.load(this.words, STATE) !== 0;
  }

  /**
   * True if the current holding began by taking over from an owner that died
   * holding the lock (a thread or child process that ended while owning it).
   * Cleared when the owner releases it completely.
   */
  get abandoned(): boolean {
    return Atomics.load(this.words, ABANDONED) !== 0;
  }

  /**
   * @internal Free the lock on behalf of `token`, an owner that died: the
   * next owner sees `abandoned`. Returns false if `token` does not own it.
   */
  releaseAbandoned(token: number): boolean {
    const w = this.words;
    if (Atomics.load(w, OWNER) !== token) return false;
    Atomics.store(w, ABANDONED, 1);
    Atomics.store(w, COUNT, 0);
    Atomics.store(w, OWNER, 0);
    futexUnlock(w, STATE, ASYNC_WAITERS);
    return true;
  }

  /** True if the calling thread holds the lock (Python's `_is_owned`). */
  isOwned(): boolean {
    return Atomics.load(this.words, OWNER) === currentThreadToken();
  }

  /** How many times the calling thread holds the lock (0 if it does not own it). */
  get recursionLevel(): number {
    return this.isOwned() ? Atomics.load(this.words, COUNT) : 0;
  }

  /** @internal take the futex as `token` and record ownership. */
  takeFor(token: number): boolean {
    const w = this.words;
    if (Atomics.load(w, OWNER) === token) {
      Atomics.add(w, COUNT, 1);
      return true;
    }
    if (Atomics.compareExchange(w, STATE, 0, 1) !== 0) return false;
    this.own(token);
    return true;
  }

  private own(token: number): void {
    Atomics.store(this.words, OWNER, token);
    Atomics.store(this.words, COUNT, 1);
  }

  /** Take the lock if it is free or already ours, without waiting. */
  tryAcquire(): boolean {
    return this.takeFor(currentThreadToken());
  }

  /** Block until the lock is ours; `false` on timeout. */
  acquireSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'RLock.acquireSync');
    const token = currentThreadToken();
    if (this.takeFor(token)) return true;
    return this.took(robustLockSync(this.words, STATE, OWNER, deadlineOf(options?.timeout), threadEnded), token);
  }

  /** After a robust lock: own it (a take-over flags the holding abandoned); false on timeout. */
  private took(result: number, token: number): boolean {
    if (result === LOCK_TIMED_OUT) return false;
    if (result === LOCK_TOOK_OVER) Atomics.store(this.words, ABANDONED, 1);
    this.own(token);
    return true;
  }

  /** Wait without blocking until the lock is ours; `false` on timeout, rejects on abort. */
  async acquire(options?: WaitOptions): Promise<boolean> {
    if (options !== undefined) checkWaitOptions(options, 'RLock.acquire');
    const signal = options?.signal;
    throwIfAborted(signal);
    const token = currentThreadToken();
    if (this.takeFor(token)) return true;
    const deadline = deadlineOf(options?.timeout);
    return this.took(
      await robustLockAsync(this.words, STATE, OWNER, deadline, threadEnded, signal, ASYNC_WAITERS),
      token,
    );
  }

  /** Release one level; throws {@link ConcRuntimeError} if the calling thread does not own it. */
  release(): void {
    this.releaseFor(currentThreadToken());
  }

  /** @internal release one level held by `token`. */
  releaseFor(token: number): void {
    const w = this.words;
    if (Atomics.load(w, OWNER) !== token) {
      throw new ConcRuntimeError(
        Atomics.load(w, STATE) === 0
          ? 'RLock.release: release of an unlocked RLock'
          : 'RLock.release: cannot release an RLock held by another thread',
      );
    }
    if (Atomics.sub(w, COUNT, 1) > 1) return;
    Atomics.store(w, OWNER, 0);
    // Plain read: written only by the holder, or by the broker before the
    // unlock our acquire synchronized with (see Lock.release).
    if (w[ABANDONED] !== 0) Atomics.store(w, ABANDONED, 0);
    futexUnlock(w, STATE, ASYNC_WAITERS);
  }

  override toString(): string {
    return `RLock(${this.locked ? `locked, count=${Atomics.load(this.words, COUNT)}` : 'unlocked'})`;
  }
}

registerShareable(RLock, {
  tag: 'conc.RLock',
  module: import.meta.url,
  share: (lock) => ({ words: describeWords(lock.words) }),
  revive: (data) => RLock.revive(data),
  // Into a child process (@conc/process): ownership is real there too (each
  // child thread calls as a token of its own), so nothing is booked; a dead
  // child's levels are released abandoned, and a level an acquire took after
  // its child died is given back, unflagged.
  process: {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release', 'isOwned'],
    getters: ['locked', 'abandoned', 'recursionLevel'],
    async: ['acquire'],
    onCall(lock, call, held) {
      const took = (call.name === 'acquire' || call.name === 'tryAcquire') && call.result === true;
      if (call.phase === 'done' && took && held.gone) held.as(held.token, () => lock.release());
    },
    onDeath(lock, held) {
      for (const token of held.tokens) lock.releaseAbandoned(token);
    },
  },
});
