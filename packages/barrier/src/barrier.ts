/**
 * Barrier: Python's `threading.Barrier`, a meeting point for a fixed number
 * of threads, reusable generation after generation.
 *
 * Layout: five shared Int32 words.
 *   [0] MUTEX   a futex mutex (@conc/core's futex.ts) guarding STATE and COUNT
 *   [1] STATE   FILLING 0 | DRAINING 1 | RESETTING 2 | BROKEN 3
 *   [2] COUNT   threads inside wait(): arrived and not yet left
 *   [3] SEQ     bumped (and notified) at every change of STATE
 *   [4] PARKED  waiters parked on SEQ right now (no Atomics.notify when 0)
 *   [5] HOLDER  the thread token of MUTEX's holder (core's robust futex)
 *   [6 + i]     the token of the thread that arrived with index i and has
 *               not left (0: none), for i < min(parties, TRACKED)
 *
 * Algorithm: Python's, with the condition variable made of SEQ.
 *   wait:  lock MUTEX. While DRAINING or RESETTING (the last generation is
 *          still leaving), sleep. BROKEN -> throw. index = COUNT++. If index
 *          is parties - 1, STATE = DRAINING (release everyone); else sleep
 *          while FILLING, then throw unless DRAINING. On the way out (return
 *          or throw) COUNT--; the last one out of a DRAINING or RESETTING
 *          barrier sets FILLING for the next generation. Unlock.
 *   sleep: s = SEQ; unlock MUTEX; spin while SEQ == s, then PARKED++, park
 *          while SEQ == s, PARKED--; lock MUTEX again; the caller re-checks.
 *   a timeout (or an abort of an async wait that has arrived) sets BROKEN:
 *          every waiter of this generation throws BrokenBarrierError.
 *   reset: with threads inside, FILLING or BROKEN becomes RESETTING (those
 *          waiting throw BrokenBarrierError; the last to leave sets
 *          FILLING); with nobody inside, FILLING at once.
 *   abort: STATE = BROKEN until reset().
 *
 * Invariants:
 *   - STATE and COUNT change only under MUTEX, and each STATE change bumps SEQ
 *     under MUTEX too, so a sleeper that read SEQ under MUTEX is either told
 *     by a changed SEQ or parked when the bump's Atomics.notify comes: the
 *     sleeper increments PARKED before it parks, the bumper reads PARKED
 *     after it bumps (sequentially consistent Atomics), so a skipped notify
 *     means the park sees the new SEQ and returns at once.
 *   - A generation's indices are 0..parties-1, each once: COUNT only grows
 *     while FILLING and no one enters until every thread of the previous
 *     generation has left (COUNT back to 0).
 *   - A thread is released only by DRAINING set after all parties arrived;
 *     DRAINING cannot turn back into FILLING while a released thread has not
 *     left (it is still counted), so none misses its release.
 *
 * Death (DESIGN.md: a Barrier with a dead party breaks): a thread that ends
 * while counted (arrived, not left) would otherwise hold the round forever.
 * Sleepers park in slices of ROBUST_CHECK_MS; a slice that passes with no
 * change makes the sleeper, under MUTEX, look through the arrival slots for
 * threads that have ended (core's liveness.ts). Each one found is uncounted
 * (COUNT--, slot cleared), as if it had left; in FILLING that breaks the
 * barrier (the round can no longer complete), and the last one out of a
 * DRAINING or RESETTING round opens the next as leave() does. MUTEX itself is
 * robust: a thread that ends holding it (terminated inside wait) is taken
 * over. A party whose index is >= TRACKED, or that dies between COUNT++ and
 * writing its slot, is not detected (the round waits for its timeout).
 *
 * Files: this one (the class: the waits, reset, abort); sections.ts (the
 * words, the MUTEX and the sections run under it); errors.ts.
 */
import {
  AdaptiveSpin,
  SPIN_ASYNC,
  type SharedWords,
  type SyncWaitOptions,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  deadlineOf,
  describeWords,
  registerShareable,
  refuseWait,
  remaining,
  spinWhileEqual,
  waitAsync,
  waitSync,
  wordsView,
} from '@conc/core';
import { BrokenBarrierError } from './errors.js';
import {
  STATE,
  COUNT,
  SEQ,
  PARKED,
  SLOTS,
  TRACKED,
  FILLING,
  DRAINING,
  RESETTING,
  BROKEN,
  lockSync,
  unlock,
  arrive,
  reapDead,
  sliceEnd,
  setState,
  leave,
  brokenError,
  timedOut,
} from './sections.js';

export { BrokenBarrierError };
export type { SyncWaitOptions };

/** Options of `new Barrier(parties, options)`. */
export interface BarrierOptions {
  /** Default timeout (ms) of every `wait` / `waitSync` that does not give one. Default: none. */
  timeout?: number;
  /**
   * Not supported: Python's `action` runs in whichever thread arrives last,
   * and a function cannot be carried into every thread. Passing one throws
   * a TypeError. Use the index instead: `if (barrier.waitSync() === 0) action()`.
   */
  action?: never;
}

/**
 * A barrier for a fixed number of parties, as Python's `threading.Barrier`:
 * each party calls `wait`, and all of them are released together once the
 * last one arrives. Then the barrier is ready for the next round. Pass it to
 * a `Thread` in `args`: it arrives as a Barrier over the same memory.
 *
 * @example
 * const barrier = new Barrier(3);
 * // in each of three threads, between two phases of work:
 * const index = barrier.waitSync(); // 0, 1 or 2: distinct in each round
 * if (index === 0) console.log('phase done');
 */
export class Barrier {
  /** @internal the shared words. */
  declare readonly words: Int32Array;
  declare private readonly _parties: number;
  declare private readonly _timeout: number | undefined;
  /** This thread's spin budget for blocking waits (core's AdaptiveSpin); made on first use. */
  private spin: AdaptiveSpin | undefined;

  /**
   * @param parties how many threads must call `wait` before all are released (a positive integer).
   * @param options `{ timeout }`: default timeout (ms) of every wait that gives none.
   * @throws RangeError if `parties` is not a positive integer or `timeout` is negative or NaN;
   *   TypeError if `parties` is not a number, or on an `action` (not supported, see {@link BarrierOptions}).
   */
  constructor(parties: number, options?: BarrierOptions) {
    if (typeof parties !== 'number') throw new TypeError(`Barrier: parties must be a number, got ${typeof parties}`);
    if (!Number.isInteger(parties) || parties < 1 || parties > 0x7fffffff) {
      throw new RangeError(`Barrier: parties must be a positive integer, got ${parties}`);
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`Barrier: options must be an object like { timeout }, got ${String(options)}`);
    }
    if (options?.action !== undefined) {
      throw new TypeError(
        'Barrier: the action option is not supported (a function cannot run in whichever thread arrives last); ' +
          'run it in the thread whose wait returns index 0 instead',
      );
    }
    const timeout = options?.timeout;
    deadlineOf(timeout, 'Barrier: timeout');
    Object.defineProperty(this, 'words', { value: allocateWords(SLOTS + Math.min(parties, TRACKED)) });
    Object.defineProperty(this, '_parties', { value: parties });
    Object.defineProperty(this, '_timeout', { value: timeout });
  }

  /** @internal Rebuild a Barrier over memory shared from another thread. */
  static revive(data: { words: SharedWords; parties: number; timeout: number | undefined }): Barrier {
    const barrier = Object.create(Barrier.prototype) as Barrier;
    Object.defineProperty(barrier, 'words', { value: wordsView(data.words) });
    Object.defineProperty(barrier, '_parties', { value: data.parties });
    Object.defineProperty(barrier, '_timeout', { value: data.timeout });
    return barrier;
  }

  /** How many threads must call `wait` to pass the barrier. */
  get parties(): number {
    return this._parties;
  }

  /** The default timeout of `wait` / `waitSync` (ms), or undefined for none. */
  get timeout(): number | undefined {
    return this._timeout;
  }

  /** How many threads are waiting at the barrier now (Python's `n_waiting`). */
  get nWaiting(): number {
    return Atomics.load(this.words, STATE) === FILLING ? Atomics.load(this.words, COUNT) : 0;
  }

  /** True while the barrier is broken (until `reset()`). */
  get broken(): boolean {
    return Atomics.load(this.words, STATE) === BROKEN;
  }

  /**
   * Block the calling thread until all `parties` have called `wait` /
   * `waitSync`. On the main thread this blocks the event loop.
   *
   * @returns the arrival index, 0 to parties - 1, distinct within a round.
   * @throws BrokenBarrierError if the barrier is broken or gets broken or
   *   reset while waiting, and on timeout (which breaks it for every waiter);
   *   RangeError on a negative or NaN timeout (before anything changes).
   */
  waitSync(options?: SyncWaitOptions): number {
    if (options !== undefined) checkSyncWaitOptions(options, 'Barrier.waitSync');
    const deadline = deadlineOf(options?.timeout ?? this._timeout);
    const w = this.words;
    lockSync(w);
    try {
      // Block while the previous round is still leaving (or being reset).
      for (let s = Atomics.load(w, STATE); s === DRAINING || s === RESETTING; s = Atomics.load(w, STATE)) {
        if (remaining(deadline) === 0) {
          setState(w, BROKEN);
          throw timedOut('waitSync');
        }
        this.sleepSync(deadline);
      }
      if (Atomics.load(w, STATE) === BROKEN) throw brokenError('waitSync', BROKEN);
      const index = arrive(w);
      try {
        if (index + 1 === this._parties) {
          setState(w, DRAINING);
          return index;
        }
        while (Atomics.load(w, STATE) === FILLING) {
          if (remaining(deadline) === 0) {
            setState(w, BROKEN);
            throw timedOut('waitSync');
          }
          this.sleepSync(deadline);
        }
        const state = Atomics.load(w, STATE);
        if (state !== DRAINING) throw brokenError('waitSync', state);
        return index;
      } finally {
        leave(w, index);
      }
    } finally {
      unlock(w);
    }
  }

  /**
   * Wait without blocking until all `parties` have called `wait` / `waitSync`.
   *
   * @returns a Promise of the arrival index, 0 to parties - 1.
   * Rejects with BrokenBarrierError as {@link Barrier.waitSync} throws; with
   * `signal.reason` if aborted (an already-aborted signal changes nothing;
   * an abort after arriving breaks the barrier, as a timeout does, since the
   * round can no longer complete); RangeError on a bad timeout.
   */
  wait(options?: WaitOptions): Promise<number> {
    const refused = refuseWait(options, 'Barrier.wait');
    if (refused) return refused;
    return this.waitAsync(deadlineOf(options?.timeout ?? this._timeout), options?.signal);
  }

  private async waitAsync(deadline: number, signal: AbortSignal | undefined): Promise<number> {
    // MUTEX is only ever held across synchronous code: taken here and after
    // each park, let go before each await. (Held across an await, a sync call
    // on this thread, such as reset(), would wait for it forever.)
    const w = this.words;
    lockSync(w);
    try {
      for (let s = Atomics.load(w, STATE); s === DRAINING || s === RESETTING; s = Atomics.load(w, STATE)) {
        if (signal?.aborted) throw signal.reason; // not arrived yet: nothing to break
        if (remaining(deadline) === 0) {
          setState(w, BROKEN);
          throw timedOut('wait');
        }
        const seq = Atomics.load(w, SEQ);
        unlock(w);
        const quiet = await parkAsync(w, seq, deadline, signal);
        lockSync(w);
        if (quiet) reapDead(w);
      }
      if (Atomics.load(w, STATE) === BROKEN) throw brokenError('wait', BROKEN);
      const index = arrive(w);
      try {
        if (index + 1 === this._parties) {
          setState(w, DRAINING);
          return index;
        }
        while (Atomics.load(w, STATE) === FILLING) {
          if (signal?.aborted) {
            setState(w, BROKEN);
            throw signal.reason;
          }
          if (remaining(deadline) === 0) {
            setState(w, BROKEN);
            throw timedOut('wait');
          }
          const seq = Atomics.load(w, SEQ);
          unlock(w);
          const quiet = await parkAsync(w, seq, deadline, signal);
          lockSync(w);
          if (quiet) reapDead(w);
        }
        const state = Atomics.load(w, STATE);
        if (state !== DRAINING) throw brokenError('wait', state);
        return index;
      } finally {
        leave(w, index);
      }
    } finally {
      unlock(w);
    }
  }

  /**
   * Return the barrier to its empty state. Threads waiting at it now throw
   * BrokenBarrierError; a broken barrier becomes usable again.
   */
  reset(): void {
    const w = this.words;
    lockSync(w);
    try {
      reapDead(w);
      if (Atomics.load(w, COUNT) > 0) {
        const state = Atomics.load(w, STATE);
        // Python's: threads inside leave with BrokenBarrierError; the last one out refills.
        if (state === FILLING || state === BROKEN) setState(w, RESETTING);
        else setState(w, state);
      } else {
        setState(w, FILLING);
      }
    } finally {
      unlock(w);
    }
  }

  /**
   * Break the barrier: every thread waiting at it, and every later `wait`,
   * throws BrokenBarrierError until `reset()`.
   */
  abort(): void {
    const w = this.words;
    lockSync(w);
    try {
      setState(w, BROKEN);
    } finally {
      unlock(w);
    }
  }

  /**
   * Under MUTEX: let it go, wait for the next change of STATE (or the
   * deadline), take it back. Spins first, with this thread's adaptive budget
   * (core's AdaptiveSpin: it backs off when spinning fails).
   */
  private sleepSync(deadline: number): void {
    const w = this.words;
    const seq = Atomics.load(w, SEQ);
    let quiet = false;
    unlock(w);
    try {
      if (!(this.spin ??= new AdaptiveSpin()).whileEqual(w, SEQ, seq)) {
        Atomics.add(w, PARKED, 1);
        try {
          quiet = waitSync(w, SEQ, seq, sliceEnd(deadline), 0) === 'timed-out';
        } finally {
          Atomics.sub(w, PARKED, 1);
        }
      }
    } finally {
      lockSync(w);
      if (quiet) reapDead(w);
    }
  }

  toString(): string {
    const state = ['filling', 'draining', 'resetting', 'broken'][Atomics.load(this.words, STATE)];
    return `Barrier(parties=${this._parties}, waiting=${this.nWaiting}, ${state})`;
  }
}

/**
 * Not holding MUTEX: wait without blocking while SEQ == seq (until the end of
 * a slice, the deadline or an abort). Never throws. True if a slice passed
 * with no change (the caller then looks for dead parties).
 */
async function parkAsync(
  w: Int32Array,
  seq: number,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (spinWhileEqual(w, SEQ, seq, SPIN_ASYNC)) return false;
  Atomics.add(w, PARKED, 1);
  try {
    return (await waitAsync(w, SEQ, seq, sliceEnd(deadline), signal, 0)) === 'timed-out';
  } finally {
    Atomics.sub(w, PARKED, 1);
  }
}

registerShareable(Barrier, {
  tag: 'conc.Barrier',
  module: import.meta.url,
  share: (barrier) => ({ words: describeWords(barrier.words), parties: barrier.parties, timeout: barrier.timeout }),
  revive: (data) => Barrier.revive(data),
  // Into a child process (@conc/process): a waiter holds nothing; nothing to
  // book (a dead child's pending wait is aborted, as all its calls are).
  process: {
    methods: ['wait', 'waitSync', 'reset', 'abort'],
    getters: ['parties', 'timeout', 'nWaiting', 'broken'],
    async: ['wait'],
  },
});
