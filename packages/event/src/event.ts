/**
 * Event: Python's `threading.Event`, a flag that threads set, clear and wait on.
 *
 * Layout: two Int32 words.
 *   [0] STATE    bit 0: the flag; bits 1..31: how many times set() has raised
 *                it (wrapping). Changes only when set() raises the flag or
 *                clear() lowers it.
 *   [1] WAITERS  waiters registered to park on STATE (sync and async, all threads)
 *
 * Algorithm:
 *   set:    if the flag is down, CAS STATE s -> s + 3 (flag up, one more
 *           set); then, if WAITERS > 0, notify every waiter of STATE.
 *   clear:  STATE &= ~1 (flag down, the count of sets is kept).
 *   wait:   s = STATE; if the flag is up, return true. Else spin while
 *           STATE == s (a running setter is usually microseconds away), then
 *           WAITERS++, park while STATE == s, WAITERS-- on the way out. A
 *           change of STATE from s (flag down) can only be a set(), so the
 *           waiter returns true, even if a clear() has lowered the flag again
 *           since: as in Python, a waiter that a set() released is told so,
 *           and a quick set()+clear() pulse still releases every waiter.
 *           Times out with false only if STATE stayed s throughout.
 *
 * Invariants:
 *   - No lost wake-up. The waiter parks only while STATE still equals the s
 *     it read (a wait compares and sleeps atomically with respect to
 *     notify), and every set() between that read and the park changes STATE
 *     (the count moves even when clear() follows at once), so the park
 *     returns at once. A set() after the park sees WAITERS > 0 (written
 *     before the park; all Atomics are sequentially consistent) and notifies.
 *   - A waiter is never woken by nothing: every wake-up re-checks STATE
 *     (an abort elsewhere notifies the word too, see @conc/core's waitAsync).
 *   - Spinners are not registered in WAITERS, so a set() seen by a spinning
 *     peer costs no notify.
 *   - The count wraps after 2^31 sets; a waiter could miss a set only if
 *     exactly 2^31 of them happened between its read and its park.
 */
import {
  SPIN_ASYNC,
  SPIN_SYNC,
  type SharedWords,
  type SyncWaitOptions,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  deadlineOf,
  describeWords,
  refuseWait,
  registerShareable,
  remaining,
  spinWhileEqual,
  throwIfAborted,
  waitAsync,
  waitSync,
  wake,
  wordsView,
} from '@conc/core';

const STATE = 0;
const WAITERS = 1;
const FLAG = 1;

export type { SyncWaitOptions };

/**
 * A flag that threads wait on, as Python's `threading.Event`: `set()` raises
 * it and wakes every waiter in every thread, `clear()` lowers it, `wait()`
 * returns at once while it is up. Starts down. Pass it to a `Thread` in
 * `args` (nested too); it arrives as an Event over the same memory.
 *
 * @example
 * const start = new Event();
 * // in each worker: start.waitSync(); work();
 * start.set(); // every worker starts
 */
export class Event {
  /** @internal the shared words (layout at the top of event.ts). */
  declare readonly words: Int32Array;

  constructor() {
    Object.defineProperty(this, 'words', { value: allocateWords(2) });
  }

  /** @internal Rebuild an Event over memory shared from another thread. */
  static revive(data: { words: SharedWords }): Event {
    const event = Object.create(Event.prototype) as Event;
    Object.defineProperty(event, 'words', { value: wordsView(data.words) });
    return event;
  }

  /** True while the flag is up (Python's `is_set()`). */
  isSet(): boolean {
    return (Atomics.load(this.words, STATE) & FLAG) !== 0;
  }

  /** Raise the flag and wake every waiter, in every thread. Does nothing if it is up. */
  set(): void {
    const w = this.words;
    let s = Atomics.load(w, STATE);
    while ((s & FLAG) === 0) {
      const seen = Atomics.compareExchange(w, STATE, s, (s + 2 + FLAG) | 0);
      if (seen === s) {
        if (Atomics.load(w, WAITERS) > 0) wake(w, STATE);
        return;
      }
      s = seen;
    }
  }

  /** Lower the flag: later waits block until the next `set()`. */
  clear(): void {
    Atomics.and(this.words, STATE, ~FLAG);
  }

  /**
   * Block the calling thread until the flag is up. Returns `true` at once if
   * it is; `true` when a `set()` releases it (even if cleared again since);
   * `false` if `timeout` (ms) passes first. On the main thread this blocks
   * the event loop.
   * @throws RangeError for a negative or NaN timeout.
   */
  waitSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'Event.waitSync');
    const w = this.words;
    const s = Atomics.load(w, STATE);
    if (s & FLAG) return true;
    const deadline = deadlineOf(options?.timeout);
    if (remaining(deadline) === 0) return false;
    if (spinWhileEqual(w, STATE, s, SPIN_SYNC)) return true;
    Atomics.add(w, WAITERS, 1);
    try {
      while (Atomics.load(w, STATE) === s) {
        // Park only (we spun above); every wake-up may be spurious: re-check.
        if (waitSync(w, STATE, s, deadline, 0) === 'timed-out') return Atomics.load(w, STATE) !== s;
      }
      return true;
    } finally {
      Atomics.sub(w, WAITERS, 1);
    }
  }

  /**
   * Wait without blocking the thread until the flag is up. Resolves `true`
   * (at once if it is up), or `false` if `timeout` passes; rejects with
   * `signal.reason` if `signal` aborts, before or while waiting.
   * Bad options reject with RangeError / TypeError.
   */
  wait(options?: WaitOptions): Promise<boolean> {
    const refused = refuseWait(options, 'Event.wait');
    if (refused) return refused;
    const s = Atomics.load(this.words, STATE);
    if (s & FLAG) return Promise.resolve(true);
    return this.waitSlow(s, deadlineOf(options?.timeout), options?.signal);
  }

  private async waitSlow(s: number, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const w = this.words;
    if (remaining(deadline) === 0) return false;
    if (spinWhileEqual(w, STATE, s, SPIN_ASYNC)) return true;
    Atomics.add(w, WAITERS, 1);
    try {
      for (;;) {
        throwIfAborted(signal);
        if (Atomics.load(w, STATE) !== s) return true;
        if (remaining(deadline) === 0) return false;
        await waitAsync(w, STATE, s, deadline, signal, 0);
      }
    } finally {
      Atomics.sub(w, WAITERS, 1);
    }
  }

  toString(): string {
    return `Event(${this.isSet() ? 'set' : 'unset'})`;
  }
}

registerShareable(Event, {
  tag: 'conc.Event',
  module: import.meta.url,
  share: (event) => ({ words: describeWords(event.words) }),
  revive: (data) => Event.revive(data),
  // Into a child process (@conc/process): a waiter holds nothing; nothing to book.
  process: { methods: ['isSet', 'set', 'clear', 'wait', 'waitSync'], async: ['wait'], local: ['toString'] },
});
