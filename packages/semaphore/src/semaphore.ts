/**
 * Semaphore and BoundedSemaphore: Python's `threading.Semaphore` and
 * `threading.BoundedSemaphore` as a count of permits in shared memory.
 *
 * Layout: three Int32 words (one 64-byte cache line).
 *   [0] VALUE    permits available, 0..2^31-1
 *   [1] WAITERS  waiters registered to park on VALUE (sync and async, all threads)
 *   [2] BOUND    the initial value: BoundedSemaphore's ceiling
 *
 * Algorithm:
 *   acquire:    CAS VALUE v -> v-1 while v > 0 (uncontended: one load, one CAS).
 *               Else spin polling VALUE (a running peer usually releases
 *               within microseconds: no park, no notify), then WAITERS++,
 *               and loop { CAS again; park on VALUE while it is 0 }, WAITERS--
 *               on the way out, however it leaves.
 *   release(n): CAS VALUE v -> v+n (refused above BOUND for a
 *               BoundedSemaphore), then, if WAITERS > 0, notify up to n.
 *
 * Invariants:
 *   - VALUE never goes below 0: it only goes down by a CAS from v > 0; it
 *     never goes above the ceiling: it only goes up by a CAS that checked it.
 *   - No lost wake-up. Every Atomics operation is sequentially consistent. A
 *     waiter writes WAITERS, then parks only while VALUE is still 0
 *     (Atomics.wait compares and sleeps atomically with respect to notify); a
 *     releaser writes VALUE, then reads WAITERS. Either the releaser's read
 *     comes after the waiter's write, and it notifies (the waiter is parked
 *     and woken, or its park finds VALUE != 0 and returns at once), or it
 *     comes before, so the VALUE write came before the waiter's park too,
 *     which finds VALUE != 0.
 *   - No swallowed wake-up. A woken waiter takes a permit, or finds that a
 *     newcomer took it (barging is allowed: not FIFO, as in Python). A
 *     waiter that leaves without a permit (timeout, abort) while permits
 *     remain and others wait passes the wake-up on (notify 1), so a notify
 *     it absorbed on its way out is not lost.
 *   - A timed-out or aborted acquire takes nothing; bad arguments throw
 *     before anything changes.
 *   - Spinners are not registered in WAITERS, so handing a permit to a peer
 *     that is still spinning costs no notify at all.
 */
import {
  Acquirable,
  ConcRuntimeError,
  SPIN_ASYNC,
  SPIN_SYNC,
  type SharedWords,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  describeWords,
  registerShareable,
  remaining,
  spinWhileEqual,
  throwIfAborted,
  waitAsync,
  waitSync,
  wordsView,
} from '@conc/core';

const VALUE = 0;
const WAITERS = 1;
const BOUND = 2;

/** The largest value a semaphore can hold (one Int32 word). */
export const MAX_SEMAPHORE_VALUE = 0x7fffffff;

/** Options of a blocking wait: a timeout only (nothing can abort a blocked thread). */
export type SyncWaitOptions = Omit<WaitOptions, 'signal'>;

/** `who: what` must be an integer from `min` to 2^31-1 (messages built only on failure). */
function checkInteger(x: unknown, min: number, who: string, what: string): void {
  if (typeof x !== 'number')
    throw new TypeError(`${who}: ${what} must be a number, got ${x === null ? 'null' : typeof x}`);
  if (!Number.isInteger(x) || x < min || x > MAX_SEMAPHORE_VALUE) {
    throw new RangeError(`${who}: ${what} must be an integer from ${min} to ${MAX_SEMAPHORE_VALUE}, got ${x}`);
  }
}

/** Method names for messages, built once per class rather than at every call. */
function methodNames(cls: string) {
  return { acquire: `${cls}.acquire`, acquireSync: `${cls}.acquireSync`, release: `${cls}.release` };
}

/** Someone left without a permit while permits remain: hand its wake-up on. */
function passOn(w: Int32Array): void {
  if (Atomics.load(w, VALUE) > 0 && Atomics.load(w, WAITERS) > 0) Atomics.notify(w, VALUE, 1);
}

/**
 * A counting semaphore, as Python's `threading.Semaphore`: `acquire` takes one
 * of `value` permits (waiting while there are none), `release(n)` gives `n`
 * back. Any thread may release; releasing more than was taken raises the
 * count (use {@link BoundedSemaphore} to refuse that). Pass it to a `Thread`
 * in `args` (nested too); it arrives as a Semaphore over the same memory.
 *
 * @example
 * const slots = new Semaphore(2);     // at most two at once
 * await slots.withLock(async () => {  // acquire, run, release
 *   await download(url);
 * });
 */
export class Semaphore extends Acquirable {
  /** @internal the shared words (layout at the top of semaphore.ts). */
  declare readonly words: Int32Array;
  /** @internal names of the methods, for messages (on the prototype). */
  declare protected readonly names: ReturnType<typeof methodNames>;

  /**
   * @param value - initial number of permits (default 1).
   * @throws RangeError if `value` is negative, not an integer, or above 2^31-1;
   *   TypeError if it is not a number.
   */
  constructor(value = 1) {
    super();
    checkInteger(value, 0, new.target.name, 'initial value');
    const words = allocateWords(3);
    words[VALUE] = value;
    words[BOUND] = value;
    Object.defineProperty(this, 'words', { value: words });
  }

  /** @internal Rebuild a semaphore (of the class it is called on) over memory shared from another thread. */
  static revive<T extends Semaphore>(this: abstract new (...args: any[]) => T, data: { words: SharedWords }): T {
    const sem = Object.create(this.prototype) as T;
    Object.defineProperty(sem, 'words', { value: wordsView(data.words) });
    return sem;
  }

  /** Permits available right now (a snapshot: other threads may change it at once). */
  get value(): number {
    return Atomics.load(this.words, VALUE);
  }

  /** Take a permit if one is available, without waiting. */
  tryAcquire(): boolean {
    const w = this.words;
    for (let v = Atomics.load(w, VALUE); v > 0; ) {
      const seen = Atomics.compareExchange(w, VALUE, v, v - 1);
      if (seen === v) return true;
      v = seen;
    }
    return false;
  }

  /**
   * Block the calling thread until a permit is taken. Returns `true`, or
   * `false` if `timeout` (ms) passes first (nothing taken). On the main
   * thread this blocks the event loop.
   * @throws RangeError for a negative or NaN timeout.
   */
  acquireSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, this.names.acquireSync);
    if (this.tryAcquire()) return true;
    const deadline = deadlineOf(options?.timeout);
    const w = this.words;
    if (remaining(deadline) > 0 && spinWhileEqual(w, VALUE, 0, SPIN_SYNC) && this.tryAcquire()) return true;
    Atomics.add(w, WAITERS, 1);
    let got = false;
    try {
      for (;;) {
        if (this.tryAcquire()) return (got = true);
        // Park only (we spun above); every wake-up may be spurious: re-check.
        if (waitSync(w, VALUE, 0, deadline, 0) === 'timed-out') return (got = this.tryAcquire());
      }
    } finally {
      Atomics.sub(w, WAITERS, 1);
      if (!got) passOn(w);
    }
  }

  /**
   * Wait without blocking the thread until a permit is taken. Resolves
   * `true`, or `false` if `timeout` passes; rejects with `signal.reason` if
   * `signal` aborts (before or while waiting), having taken nothing.
   * Bad options reject with RangeError / TypeError.
   */
  acquire(options?: WaitOptions): Promise<boolean> {
    if (options !== undefined) {
      try {
        checkWaitOptions(options, this.names.acquire);
      } catch (error) {
        return Promise.reject(error);
      }
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    }
    if (this.tryAcquire()) return Promise.resolve(true);
    return this.acquireSlow(deadlineOf(options?.timeout), options?.signal);
  }

  private async acquireSlow(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const w = this.words;
    if (remaining(deadline) > 0 && spinWhileEqual(w, VALUE, 0, SPIN_ASYNC) && this.tryAcquire()) return true;
    Atomics.add(w, WAITERS, 1);
    let got = false;
    try {
      for (;;) {
        throwIfAborted(signal);
        if (this.tryAcquire()) return (got = true);
        if (remaining(deadline) === 0) return false;
        // An abort notifies the word (see @conc/core's waitAsync): re-check.
        await waitAsync(w, VALUE, 0, deadline, signal, 0);
      }
    } finally {
      Atomics.sub(w, WAITERS, 1);
      if (!got) passOn(w);
    }
  }

  /**
   * Give back `n` permits (default 1) and wake up to `n` waiters, in any
   * thread. Any thread may release, also one that never acquired.
   * @throws RangeError if `n` is not an integer >= 1 (Python's `ValueError`),
   *   or the count would pass 2^31-1; TypeError if `n` is not a number.
   *   Nothing is released when it throws.
   */
  override release(n = 1): void {
    checkInteger(n, 1, this.names.release, 'n');
    const w = this.words;
    const ceiling = this.ceiling();
    let v = Atomics.load(w, VALUE);
    for (;;) {
      if (v > ceiling - n) throw this.tooMany(v, n);
      const seen = Atomics.compareExchange(w, VALUE, v, v + n);
      if (seen === v) break;
      v = seen;
    }
    const waiters = Atomics.load(w, WAITERS);
    if (waiters > 0) Atomics.notify(w, VALUE, Math.min(n, waiters));
  }

  /** @internal The most permits this semaphore may hold. */
  protected ceiling(): number {
    return MAX_SEMAPHORE_VALUE;
  }

  /** @internal The error for a release that would pass {@link ceiling}. */
  protected tooMany(value: number, n: number): Error {
    return new RangeError(`Semaphore.release: ${value} + ${n} permits would exceed ${MAX_SEMAPHORE_VALUE}`);
  }

  override toString(): string {
    return `Semaphore(value=${this.value})`;
  }
}

/**
 * A semaphore that refuses to be released above its initial value, as
 * Python's `threading.BoundedSemaphore`: over-releasing is a bug in the
 * caller, and this catches it at the release that goes too far.
 * It is also a {@link Semaphore} (`instanceof Semaphore` holds).
 *
 * @example
 * const pool = new BoundedSemaphore(3);
 * pool.acquireSync();
 * pool.release();
 * pool.release(); // throws ConcRuntimeError: released too many times
 */
export class BoundedSemaphore extends Semaphore {
  /** The initial value, which `value` may never exceed. */
  get initialValue(): number {
    return Atomics.load(this.words, BOUND);
  }

  /**
   * Give back `n` permits (default 1) and wake up to `n` waiters.
   * @throws ConcRuntimeError if that would raise `value` above the initial
   *   value (Python raises `ValueError: Semaphore released too many times`);
   *   RangeError / TypeError for a bad `n`. Nothing is released when it throws.
   */
  override release(n = 1): void {
    super.release(n);
  }

  protected override ceiling(): number {
    return Atomics.load(this.words, BOUND);
  }

  protected override tooMany(value: number, n: number): Error {
    return new ConcRuntimeError(
      `BoundedSemaphore.release: released too many times (value ${value} + ${n} would exceed the initial value ${this.ceiling()})`,
    );
  }

  override toString(): string {
    return `BoundedSemaphore(value=${this.value}/${this.initialValue})`;
  }
}

Object.defineProperty(Semaphore.prototype, 'names', { value: methodNames('Semaphore') });
Object.defineProperty(BoundedSemaphore.prototype, 'names', { value: methodNames('BoundedSemaphore') });

const share = (sem: Semaphore) => ({ words: describeWords(sem.words) });
registerShareable(Semaphore, {
  tag: 'conc.Semaphore',
  module: import.meta.url,
  share,
  revive: (data) => Semaphore.revive(data),
  // Into a child process (@conc/process): permits are not owned, so nothing
  // is booked (a dead child's stay taken, as in Python); one an acquire got
  // after its child died is given back.
  process: {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release'],
    getters: ['value'],
    async: ['acquire'],
    local: ['toString'],
    onCall(sem, call, held) {
      if (call.phase === 'done' && call.name !== 'release' && call.result === true && held.gone) sem.release();
    },
  },
});
registerShareable(BoundedSemaphore, {
  tag: 'conc.BoundedSemaphore',
  module: import.meta.url,
  share,
  revive: (data) => BoundedSemaphore.revive(data),
  // Into a child process: as a Semaphore's.
  process: {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release'],
    getters: ['value', 'initialValue'],
    async: ['acquire'],
    local: ['toString'],
    onCall(sem, call, held) {
      if (call.phase === 'done' && call.name !== 'release' && call.result === true && held.gone) sem.release();
    },
  },
});
