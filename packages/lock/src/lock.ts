/**
 * Lock: Python's `threading.Lock` as a three-state futex mutex in one shared
 * Int32 word (the algorithm and its invariants: @conc/core's futex.ts).
 *
 *   acquire: CAS 0 -> 1 inline (uncontended: one compare-and-swap); else
 *            spin, then park on the word (sync: Atomics.wait, async:
 *            Atomics.waitAsync), setting it to 2 so the release will notify.
 *   release: exchange(0); notify one if it was 2 (all while async waiters
 *            are counted in word [2], see futex.ts); throw if it was 0.
 *
 * Invariants:
 *   - Held iff the word != 0; whoever turned it non-zero holds it.
 *   - No lost wake-up: a waiter writes 2 before it parks on 2, so the release
 *     that follows sees 2 and notifies.
 *   - Not owned: any thread may release (as in Python). Not fair: a newcomer
 *     may barge past a woken waiter.
 *   - A timed-out or aborted acquire holds nothing (it only ever leaves a
 *     stale 2 behind, which costs one spare notify).
 *
 * Abandonment (word [1]): when a process dies holding the lock, its broker
 * (@conc/process) sets [1] = 1 and then releases the futex (releaseAbandoned).
 * The next holder reads `abandoned === true`; its release() clears [1] before
 * unlocking, so the flag always describes the current holding.
 *
 * Robustness in threads (word [3], the holder's thread token; futex.ts's
 * robust variant): a holder writes its token right after taking the lock and
 * any releaser clears it right before unlocking. A waiter parked in
 * acquire/acquireSync checks every 100 ms whether that thread died (core's
 * liveness.ts: killed, terminated, process.exit(), its target threw) and, if
 * so, takes the lock over (one CAS on word [3], so exactly one waiter does)
 * and sets [1]: `abandoned === true`. A thread whose target RETURNED while
 * holding the lock leaves it held, as in Python (any thread may release a
 * Lock, so another may be about to).
 */
import {
  Acquirable,
  ConcRuntimeError,
  FUTEX_UNLOCKED,
  LOCK_TOOK_OVER,
  type SharedWords,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  describeWords,
  currentThreadToken,
  futexTryLock,
  futexUnlock,
  registerShareable,
  robustLockAsync,
  robustLockSync,
  threadDied,
  wordsView,
} from '@conc/core';

/** Word [2]: how many async acquirers are parked (futex.ts explains why). */
const ASYNC_WAITERS = 2;
/** Word [3]: the holder's thread token (0: none known). */
const OWNER = 3;

/** Options of a blocking wait: a timeout only (nothing can abort a blocked thread). */
export type SyncWaitOptions = Omit<WaitOptions, 'signal'>;

/**
 * A primitive lock, as Python's `threading.Lock`: not re-entrant, not owned
 * (any thread may release it). Pass it to a `Thread` or `Process` in `args`.
 *
 * @example
 * const lock = new Lock();
 * lock.acquireSync();
 * try { counter[0]++; } finally { lock.release(); }
 */
export class Lock extends Acquirable {
  /** @internal the shared word. */
  declare readonly words: Int32Array;

  constructor() {
    super();
    Object.defineProperty(this, 'words', { value: allocateWords(4) });
  }

  /** @internal Rebuild a Lock over memory shared from another thread. */
  static revive(data: { words: SharedWords }): Lock {
    const lock = Object.create(Lock.prototype) as Lock;
    Object.defineProperty(lock, 'words', { value: wordsView(data.words) });
    return lock;
  }

  /** True while some thread holds the lock. */
  get locked(): boolean {
    return Atomics.load(this.words, 0) !== FUTEX_UNLOCKED;
  }

  /**
   * True if the current holding began by taking over from a holder that died
   * holding the lock (a thread that was terminated, crashed or threw, or a child
   * process that exited or was killed). Cleared by the next `release()`.
   */
  get abandoned(): boolean {
    return Atomics.load(this.words, 1) !== 0;
  }

  /** @internal Release on behalf of a holder that died: the next holder sees `abandoned`. */
  releaseAbandoned(): void {
    Atomics.store(this.words, 1, 1);
    Atomics.store(this.words, OWNER, 0);
    futexUnlock(this.words, 0, ASYNC_WAITERS);
  }

  /** Take the lock if it is free, without waiting. */
  tryAcquire(): boolean {
    if (!futexTryLock(this.words, 0)) return false;
    this.words[OWNER] = currentThreadToken();
    return true;
  }

  /**
   * Block the calling thread until the lock is taken; `false` if `timeout`
   * (ms) passes first. On the main thread this blocks the event loop.
   */
  acquireSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'Lock.acquireSync');
    if (futexTryLock(this.words, 0)) {
      this.words[OWNER] = currentThreadToken();
      return true;
    }
    return this.took(robustLockSync(this.words, 0, OWNER, deadlineOf(options?.timeout), threadDied));
  }

  /**
   * Wait without blocking until the lock is taken. Resolves `true`, or `false`
   * if `timeout` passes; rejects with `signal.reason` if aborted (holding nothing).
   */
  acquire(options?: WaitOptions): Promise<boolean> {
    if (options !== undefined) {
      try {
        checkWaitOptions(options, 'Lock.acquire');
      } catch (error) {
        return Promise.reject(error);
      }
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    }
    if (futexTryLock(this.words, 0)) {
      this.words[OWNER] = currentThreadToken();
      return Promise.resolve(true);
    }
    return robustLockAsync(
      this.words,
      0,
      OWNER,
      deadlineOf(options?.timeout),
      threadDied,
      options?.signal,
      ASYNC_WAITERS,
    ).then((r) => this.took(r));
  }

  /** A robust lock's result as acquire's boolean; a take-over flags the holding abandoned. */
  private took(result: number): boolean {
    if (result === LOCK_TOOK_OVER) Atomics.store(this.words, 1, 1);
    return result !== 0;
  }

  /**
   * Release the lock (any thread may). Throws {@link ConcRuntimeError} if the
   * lock is not held, as Python's `RuntimeError: release unlocked lock`.
   */
  release(): void {
    // A plain read is enough (and an Atomics.load here cost 25% of an
    // uncontended acquire+release): the flag is only written by the holder or
    // by the broker before the unlock that let us acquire, so our acquiring
    // CAS already ordered that write before this read.
    if (this.words[1] !== 0) Atomics.store(this.words, 1, 0);
    this.words[OWNER] = 0;
    if (futexUnlock(this.words, 0, ASYNC_WAITERS) === FUTEX_UNLOCKED) {
      throw new ConcRuntimeError('Lock.release: release of an unlocked lock');
    }
  }

  override toString(): string {
    return `Lock(${this.locked ? 'locked' : 'unlocked'})`;
  }
}

registerShareable(Lock, {
  tag: 'conc.Lock',
  module: import.meta.url,
  share: (lock) => ({ words: describeWords(lock.words) }),
  revive: (data) => Lock.revive(data),
  // Into a child process (@conc/process): any process may release a Lock, as
  // in Python, so the broker books which process took it, and a release by
  // anyone clears that; a dead holder's Lock is released abandoned. An
  // acquire that completes after its child died is given back, unflagged.
  process: {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release'],
    getters: ['locked', 'abandoned'],
    async: ['acquire'],
    local: ['toString'],
    onCall(lock, call, held) {
      if (call.phase !== 'done') return;
      if (call.name === 'release') held.drop(lock);
      else if (call.result === true && held.gone) lock.release();
      else if (call.result === true) held.hold(lock);
    },
    onDeath(lock, held) {
      if (held.letGo(lock) && lock.locked) lock.releaseAbandoned();
    },
  },
});
