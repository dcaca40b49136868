/**
 * RLock: a re-entrant lock owned by one thread, as Python's `threading.RLock`.
 *
 * Layout: five shared Int32 words.
 *   [0] state: the same three-state futex as Lock (0 free, 1 held, 2 held+waiters)
 *   [1] owner: the holder's thread token (non-zero), 0 when free
 *   [2] depth: how many times the owner has acquired it AGAIN (the recursion
 *       level minus one): 0 whenever it is free or held once
 *   [3] abandoned: 1 if the current holding took over from an owner that died
 *       (set by @conc/process's broker before it frees the lock, cleared when
 *       the owner releases it completely)
 *   [4] async waiters: how many async acquirers are parked (see futex.ts)
 *
 * Algorithm:
 *   acquire: if owner == me, depth++ (only the owner writes depth while it
 *            owns, so no race). Else take the futex as Lock does, then
 *            owner = me (depth is 0 already).
 *   release: if owner != me, throw. If depth > 0, depth--. Else owner = 0
 *            and release the futex (exchange 0, notify one if it was 2).
 * So the common hand-off (acquire once, release) writes the state word
 * twice and the owner word twice, and only reads depth: the words a
 * Condition's ping-pong moves between cores at every turn.
 *
 * Invariants:
 *   - owner != 0 implies state != 0; owner is written only by the thread that
 *     holds the futex, so "owner == me" can only be true for the real owner
 *     (another thread may read a stale owner, but never its own token).
 *   - depth is 0 whenever the futex is free: the last release leaves it 0,
 *     the broker's releaseAbandoned and a take-over set it to 0.
 *   - Owner tokens come from @conc/core's currentThreadToken(): unique per
 *     thread within a process; @conc/process gives remote holders their own.
 *
 * Robustness (futex.ts's robust variant, owner word [1]): a waiter parked in
 * acquire/acquireSync checks every 100 ms whether the owner thread has ended
 * in any way (core's liveness.ts); an RLock can only be released by its owner,
 * so an owner that ended, even normally, can never release it. The waiter
 * takes it over with one CAS on the owner word (exactly one does), sets
 * depth = 0 (recursion level 1) and [3] abandoned = 1.
 */
import {
  Acquirable,
  ConcRuntimeError,
  type SharedWords,
  type SyncWaitOptions,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  currentThreadToken,
  deadlineOf,
  describeWords,
  LOCK_TIMED_OUT,
  LOCK_TOOK_OVER,
  futexTryLock,
  futexUnlock,
  refuseWait,
  registerShareable,
  robustLockAsync,
  robustLockSync,
  threadEnded,
  wordsView,
} from '@conc/core';

const STATE = 0;
const OWNER = 1;
/** Recursion level minus one (0 when free or held once). */
const DEPTH = 2;
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
    Atomics.store(w, DEPTH, 0);
    Atomics.store(w, OWNER, 0);
    futexUnlock(w, STATE, ASYNC_WAITERS);
    return true;
  }

  /**
   * True if the calling thread holds the lock (Python's `_is_owned`).
   *
   * Reads of the owner word are plain (an Atomics.load here cost a third of
   * an uncontended acquire+release): the word can hold the caller's token
   * only if the caller wrote it, and then it reads it back in program order;
   * any other value, stale or not, means "not mine" either way.
   */
  isOwned(): boolean {
    return this.words[OWNER] === currentThreadToken();
  }

  /** How many times the calling thread holds the lock (0 if it does not own it). */
  get recursionLevel(): number {
    return this.isOwned() ? this.words[DEPTH] + 1 : 0;
  }

  /** Take the lock if it is free or already ours, without waiting. */
  tryAcquire(): boolean {
    const w = this.words;
    const token = currentThreadToken();
    if (w[OWNER] === token) {
      w[DEPTH]++;
      return true;
    }
    if (!futexTryLock(w, STATE)) return false;
    // Plain stores of owner and depth (as Lock's): only the holder writes
    // them, and the futex's compare-and-swap and exchange order them for the
    // next holder; other threads only compare the owner with their own token.
    w[OWNER] = token;
    return true;
  }

  /** Block until the lock is ours; `false` on timeout. */
  acquireSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'RLock.acquireSync');
    if (this.tryAcquire()) return true;
    return this.took(robustLockSync(this.words, STATE, OWNER, deadlineOf(options?.timeout), threadEnded));
  }

  /**
   * After a robust lock (which wrote our token to the owner word): false on
   * timeout; a take-over flags the holding abandoned and drops the dead
   * owner's depth.
   */
  private took(result: number): boolean {
    if (result === LOCK_TIMED_OUT) return false;
    if (result === LOCK_TOOK_OVER) {
      Atomics.store(this.words, DEPTH, 0);
      Atomics.store(this.words, ABANDONED, 1);
    }
    return true;
  }

  /** Wait without blocking until the lock is ours; `false` on timeout, rejects on abort. */
  acquire(options?: WaitOptions): Promise<boolean> {
    const refused = refuseWait(options, 'RLock.acquire');
    if (refused) return refused;
    if (this.tryAcquire()) return Promise.resolve(true);
    return this.acquireSlow(deadlineOf(options?.timeout), options?.signal);
  }

  private async acquireSlow(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    return this.took(await robustLockAsync(this.words, STATE, OWNER, deadline, threadEnded, signal, ASYNC_WAITERS));
  }

  /** Release one level; throws {@link ConcRuntimeError} if the calling thread does not own it. */
  release(): void {
    const w = this.words;
    if (w[OWNER] !== currentThreadToken()) {
      throw new ConcRuntimeError(
        Atomics.load(w, STATE) === 0
          ? 'RLock.release: release of an unlocked RLock'
          : 'RLock.release: cannot release an RLock held by another thread',
      );
    }
    // Plain reads: depth and abandoned are written only by the holder (us),
    // or by the broker before the unlock our acquire synchronized with.
    const depth = w[DEPTH];
    if (depth > 0) {
      w[DEPTH] = depth - 1;
      return;
    }
    w[OWNER] = 0;
    if (w[ABANDONED] !== 0) Atomics.store(w, ABANDONED, 0);
    futexUnlock(w, STATE, ASYNC_WAITERS);
  }

  override toString(): string {
    return `RLock(${this.locked ? `locked, count=${Atomics.load(this.words, DEPTH) + 1}` : 'unlocked'})`;
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
