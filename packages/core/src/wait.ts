/**
 * Waiting on a shared Int32 word: the one place where conc parks a thread.
 *
 * Every primitive is a loop of the form
 *
 *     while (!tryTheFastPath()) {
 *       const r = waitSync(words, i, valueSeenWhenFastPathFailed, deadline);
 *       if (r === 'timed-out') return false;
 *     }
 *
 * The wait only parks if the word still holds the value the caller saw, so a
 * change made (and notified) between the caller's check and the park is never
 * lost: the kernel-style "compare then sleep" is atomic in Atomics.wait.
 * Every wake-up may be spurious; callers always re-check their condition.
 *
 * Spin then park: parking and waking costs ~30 us here, while a running peer
 * usually changes the word within a few hundred nanoseconds. So both waits
 * first poll the word a bounded number of times and only then park.
 *
 * Async waits use Atomics.waitAsync, with two facts measured on Node 20:
 * - a pending waitAsync does not keep the event loop alive, so each wait holds
 *   a ref'd timer for as long as it is pending;
 * - a pending waitAsync cannot be cancelled, so an abort notifies every waiter
 *   of the word (they all re-check and re-park); no dead waiter is left
 *   behind to swallow a later single notify.
 */

/** Options every waiting method takes. */
export interface WaitOptions {
  /** Milliseconds to wait at most. Absent or `Infinity`: wait forever. */
  timeout?: number;
  /** Abort the wait: the call rejects with `signal.reason`. Async methods only. */
  signal?: AbortSignal;
}

/** Result of one wait on a word. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** How many times a waiter polls the word before it parks. */
export const SPIN_SYNC = 2000;
/** Async waiters run on an event loop: poll much less before parking. */
export const SPIN_ASYNC = 50;

/**
 * Check a timeout and turn it into an absolute deadline (performance.now() ms).
 * `undefined` and `Infinity` give `Infinity`; negative or NaN throw RangeError.
 */
export function deadlineOf(timeout: number | undefined, what = 'timeout'): number {
  if (timeout === undefined || timeout === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(`${what} must be a non-negative number of milliseconds or Infinity, got ${String(timeout)}`);
  }
  return performance.now() + timeout;
}

/** Milliseconds left until `deadline` (never negative; Infinity stays Infinity). */
export function remaining(deadline: number): number {
  if (deadline === Number.POSITIVE_INFINITY) return deadline;
  const left = deadline - performance.now();
  return Math.max(left, 0);
}

/** Validate the options of a waiting call; throws at once on bad input. */
export function checkWaitOptions(options: WaitOptions | undefined, method: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${method}: options must be an object like { timeout, signal }, got ${String(options)}`);
  }
  const { signal, timeout } = options;
  // Validate without reading the clock: this runs on every acquire that passes options.
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0))
    deadlineOf(timeout, `${method}: timeout`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${method}: options.signal must be an AbortSignal`);
  }
}

/** Poll `words[index]` up to `spins` times; true as soon as it differs from `value`. */
export function spinWhileEqual(words: Int32Array, index: number, value: number, spins: number): boolean {
  for (let i = 0; i < spins; i++) {
    if (Atomics.load(words, index) !== value) return true;
  }
  return false;
}

/**
 * Block the calling thread while `words[index] === value`, until notified or
 * until `deadline`. Spins `spins` polls first (default {@link SPIN_SYNC}; a
 * mutex passes 0, see futex.ts). Callers re-check their condition.
 */
export function waitSync(
  words: Int32Array,
  index: number,
  value: number,
  deadline: number,
  spins: number = SPIN_SYNC,
): WaitResult {
  if (spins > 0 && spinWhileEqual(words, index, value, spins)) return 'not-equal';
  const left = remaining(deadline);
  if (left === 0) return 'timed-out';
  return Atomics.wait(words, index, value, left);
}

const forever = 2 ** 31 - 1;
function noop(): void {}

/**
 * Wait without blocking while `words[index] === value`, until notified,
 * `deadline`, or `signal` aborts (then resolves 'ok': the caller checks
 * `signal.aborted` in its loop). Holds the event loop open while pending.
 */
export function waitAsync(
  words: Int32Array,
  index: number,
  value: number,
  deadline: number,
  signal?: AbortSignal,
  spins: number = SPIN_ASYNC,
): WaitResult | Promise<WaitResult> {
  if (spins > 0 && spinWhileEqual(words, index, value, spins)) return 'not-equal';
  const left = remaining(deadline);
  if (left === 0) return 'timed-out';
  const r = Atomics.waitAsync(words, index, value, left);
  if (!r.async) return r.value;
  // A pending waitAsync does not keep the process alive: hold a timer.
  const keepAlive = setTimeout(noop, Math.min(left === Number.POSITIVE_INFINITY ? forever : left + 1000, forever));
  let onAbort: (() => void) | undefined;
  if (signal) {
    onAbort = () => Atomics.notify(words, index);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  return r.value.then((v) => {
    clearTimeout(keepAlive);
    if (onAbort) signal!.removeEventListener('abort', onAbort);
    return v;
  });
}

/** Reject-with-reason helper for async methods: throws `signal.reason` if aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** Block the calling thread for `ms` milliseconds (Python's `time.sleep`, in ms). */
export function sleepSync(ms: number): void {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`sleep: ms must be a non-negative number, got ${String(ms)}`);
  }
  if (ms === 0) return;
  Atomics.wait(sleeper, 0, 0, ms);
}
const sleeper = new Int32Array(new SharedArrayBuffer(4));
