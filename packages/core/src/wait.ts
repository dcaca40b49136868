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
 * first poll the word a bounded number of times and only then park; how
 * many times is the thread's AdaptiveSpin (spin.ts), capped by the caller.
 *
 * Async waits use Atomics.waitAsync, with two facts measured on Node 20:
 * - a pending waitAsync does not keep the event loop alive, so each wait holds
 *   a ref'd timer for as long as it is pending;
 * - a pending waitAsync cannot be cancelled, so an abort notifies every waiter
 *   of the word (they all re-check and re-park); no dead waiter is left
 *   behind to swallow a later single notify.
 */

import { inArena } from './arena.js';
import { shmModule } from './backend.js';
import { type LongTimeout, MAX_TIMER_MS, setLongTimeout } from './timers.js';

/** Options every waiting method takes. */
export interface WaitOptions {
  /** Milliseconds to wait at most. Absent or `Infinity`: wait forever. */
  timeout?: number;
  /** Abort the wait: the call rejects with `signal.reason`. Async methods only. */
  signal?: AbortSignal;
}

/** Options of a blocking (`Sync`) wait: a timeout only (nothing can abort a blocked thread). */
export type SyncWaitOptions = Omit<WaitOptions, 'signal'>;

/** Result of one wait on a word. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** How many times a blocking waiter polls the word before it parks. */
export const SPIN_SYNC = 2000;
/** Async waiters run on an event loop: poll much less before parking. */
export const SPIN_ASYNC = 50;

/**
 * Check a timeout and turn it into an absolute deadline (performance.now() ms).
 * `undefined` and `Infinity` give `Infinity`; a timeout that is not a number
 * ('100', null, true, 10n) throws TypeError; negative or NaN throws RangeError.
 */
export function deadlineOf(timeout: number | undefined, what = 'timeout'): number {
  if (timeout === undefined || timeout === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (!(typeof timeout === 'number' && timeout >= 0)) badTimeout(timeout, what);
  return performance.now() + timeout;
}

/** Throw the error a bad timeout gets: TypeError if it is not a number, else RangeError. */
function badTimeout(timeout: unknown, what: string): never {
  if (typeof timeout !== 'number') {
    throw new TypeError(`${what} must be a number of milliseconds (or Infinity), got ${describe(timeout)}`);
  }
  throw new RangeError(`${what} must be a non-negative number of milliseconds or Infinity, got ${timeout}`);
}

/** A short description of a bad option value for an error message: `'100' (a string)`, `null`, `10n (a bigint)`. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)} (a string)`;
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (typeof value === 'boolean' || typeof value === 'undefined') return String(value);
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

/** Milliseconds left until `deadline` (never negative; Infinity stays Infinity). */
export function remaining(deadline: number): number {
  if (deadline === Number.POSITIVE_INFINITY) return deadline;
  const left = deadline - performance.now();
  return Math.max(left, 0);
}

/**
 * Validate the options of a waiting call; throws at once on bad input. The
 * one rule every primitive follows (DESIGN.md, "Conventions"):
 * - options, if given, are an object: else TypeError;
 * - `timeout` is absent, `Infinity` or a number >= 0: TypeError if it is not
 *   a number ('100', null, true, 10n), RangeError if negative or NaN;
 * - `signal` is absent or an AbortSignal: else TypeError.
 * Async methods turn the throw into a rejection; blocking methods use
 * {@link checkSyncWaitOptions}. Nothing is changed before this returns.
 */
export function checkWaitOptions(options: WaitOptions | undefined, method: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${method}: options must be an object like { timeout, signal }, got ${describe(options)}`);
  }
  const { signal, timeout } = options;
  // Validate without reading the clock: this runs on every acquire that passes options.
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0))
    badTimeout(timeout, `${method}: timeout`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${method}: options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
}

/**
 * {@link checkWaitOptions} for a blocking (`Sync`) method: a `signal`, any
 * signal (aborted or not), throws TypeError, since a blocked thread cannot
 * observe it.
 */
export function checkSyncWaitOptions(options: SyncWaitOptions | undefined, method: string): void {
  if (options === undefined) return;
  checkWaitOptions(options, method);
  if ((options as WaitOptions).signal !== undefined) {
    throw new TypeError(`${method}: a blocking call cannot take a signal; use the async method`);
  }
}

/**
 * The prologue of every async waiting method, written once: a rejected promise
 * if `options` are bad ({@link checkWaitOptions}) or `options.signal` has
 * already aborted (with its reason), else `undefined`. Nothing is changed.
 *
 *     const refused = refuseWait(options, 'Event.wait');
 *     if (refused) return refused;
 */
export function refuseWait(options: WaitOptions | undefined, method: string): Promise<never> | undefined {
  if (options === undefined) return undefined;
  try {
    checkWaitOptions(options, method);
  } catch (error) {
    return Promise.reject(error);
  }
  if (options.signal?.aborted) return Promise.reject(options.signal.reason);
  return undefined;
}

/**
 * Wake up to `count` threads parked on `words[index]` (default: all); returns
 * how many were woken. The one place outside futex.ts that notifies: every
 * primitive wakes through it, so the memory backend decides how.
 */
export function wake(words: Int32Array, index: number, count = Number.POSITIVE_INFINITY): number {
  if (inArena(words.buffer))
    return shmModule()!.wake(words, index, count === Number.POSITIVE_INFINITY ? 0x7fffffff : count);
  return Atomics.notify(words, index, count);
}

/**
 * Poll `words[index]` up to `spins` times; true as soon as it differs from
 * `value`. A fixed count, not an AdaptiveSpin (spin.ts), for now: with one
 * adaptive budget per thread, an Event and a Semaphore ping-pong between two
 * threads ran at 1.0-1.8 M/s against 1.9-3.1 M/s with this loop (the same
 * build otherwise, alternated in one session, issue 10): every isolated
 * failed spin shrank the budget, the shorter spins that followed parked more,
 * and one park costs about a hundred hand-offs. Primitives whose waiters can
 * outnumber the cores (Condition, Barrier) keep their own AdaptiveSpin.
 */
export function spinWhileEqual(words: Int32Array, index: number, value: number, spins: number): boolean {
  for (let i = 0; i < spins; i++) if (Atomics.load(words, index) !== value) return true;
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
  if (inArena(words.buffer)) return parkSync(words, index, value, deadline);
  return Atomics.wait(words, index, value, left);
}

function noop(): void {}

/**
 * How long one kernel futex wait of a blocked thread lasts at most. V8 ends
 * an Atomics.wait when its worker is terminated; a thread inside a native
 * futex call only sees the termination when the call returns, so a blocking
 * wait on arena words parks in slices (a terminated thread then ends within
 * one slice). A wake between two slices is not lost: every waker changes the
 * word first, and the next slice sees 'not-equal'.
 */
const PARK_SLICE_MS = 50;

function parkSync(words: Int32Array, index: number, value: number, deadline: number): WaitResult {
  const shm = shmModule()!;
  for (;;) {
    const left = remaining(deadline);
    if (left === 0) return 'timed-out';
    const r = shm.wait(words, index, value, Math.min(left, PARK_SLICE_MS));
    if (r !== 'timed-out') return r;
  }
}

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
  if (inArena(words.buffer)) return parkAsync(words, index, value, left, signal);
  const r = Atomics.waitAsync(words, index, value, left);
  if (!r.async) return r.value;
  // A pending waitAsync does not keep the process alive: hold a timer (for
  // as long as the wait, however long: setLongTimeout chains past 2^31-1 ms).
  const keepAlive = setLongTimeout(noop, left + 1000);
  let onAbort: (() => void) | undefined;
  if (signal) {
    onAbort = () => Atomics.notify(words, index);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  return r.value.then((v) => {
    keepAlive.clear();
    if (onAbort) signal!.removeEventListener('abort', onAbort);
    return v;
  });
}

/**
 * waitAsync on arena words: the kernel futex, from @conc/shm's helper thread.
 *
 * The async waiters of one thread on one word (and value) share ONE native
 * wait, a group: when it ends, its waiters resume in the order they began
 * waiting, as V8's waitAsync resumes them (a Queue's concurrent gets in one
 * thread are served in call order), and 300 pending gets cost one kernel
 * waiter, not 300. Each waiter keeps its own deadline and signal: a waiter
 * that times out or is aborted leaves its group (resolving 'timed-out', or
 * 'ok' with the caller seeing `signal.aborted`); the last one to leave
 * cancels the native wait, which, unlike V8's, can be cancelled. Waking a
 * group wakes all its waiters: every wake-up may be spurious, they re-check.
 */
interface Waiter {
  resolve(r: WaitResult): void;
  timer: LongTimeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}
interface Group {
  waiters: Set<Waiter>;
  cancel(): boolean;
}
const groups = new Map<ArrayBufferLike, Map<string, Group>>();

function parkAsync(
  words: Int32Array,
  index: number,
  value: number,
  left: number,
  signal: AbortSignal | undefined,
): WaitResult | Promise<WaitResult> {
  let byKey = groups.get(words.buffer);
  if (byKey === undefined) groups.set(words.buffer, (byKey = new Map()));
  const key = `${words.byteOffset / 4 + index}:${value}`;
  let group = byKey.get(key);
  if (group === undefined) {
    const handle = shmModule()!.waitAsync(words, index, value);
    if (!handle.async) return handle.value;
    const g: Group = { waiters: new Set(), cancel: handle.cancel };
    group = g;
    byKey.set(key, g);
    handle.value.then(() => {
      if (byKey!.get(key) === g) byKey!.delete(key);
      for (const w of g.waiters) settle(w, 'ok');
      g.waiters.clear();
    });
  }
  const g = group;
  return new Promise<WaitResult>((resolve) => {
    const w: Waiter = {
      resolve,
      signal,
      onAbort: undefined,
      // Also what holds the event loop open while the wait is pending.
      timer: setLongTimeout(() => leave(w, 'timed-out'), left === Number.POSITIVE_INFINITY ? MAX_TIMER_MS : left),
    };
    if (left === Number.POSITIVE_INFINITY) {
      w.timer.clear();
      w.timer = setLongTimeout(noop, Number.MAX_SAFE_INTEGER);
    }
    if (signal) {
      w.onAbort = () => leave(w, 'ok');
      signal.addEventListener('abort', w.onAbort, { once: true });
    }
    g.waiters.add(w);
    function leave(x: Waiter, r: WaitResult): void {
      if (!g.waiters.delete(x)) return;
      settle(x, r);
      if (g.waiters.size === 0 && byKey!.get(key) === g) {
        byKey!.delete(key);
        g.cancel();
      }
    }
  });
}

function settle(w: Waiter, r: WaitResult): void {
  w.timer.clear();
  if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
  w.resolve(r);
}

/** Reject-with-reason helper for async methods: throws `signal.reason` if aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** Block the calling thread for `ms` milliseconds (Python's `time.sleep`, in ms). */
export function sleepSync(ms: number): void {
  checkSleep(ms, 'sleep');
  if (ms === 0) return;
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Check the milliseconds of a sleep: TypeError if not a number, RangeError if negative or NaN. */
export function checkSleep(ms: number, method: string): void {
  if (!(typeof ms === 'number' && ms >= 0)) badTimeout(ms, `${method}: ms`);
}
const sleeper = new Int32Array(new SharedArrayBuffer(4));
