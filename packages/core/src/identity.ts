/**
 * Who is calling: a non-zero Int32 token per thread, used as an owner id (RLock).
 *
 * Shared memory never leaves its process, so `threadId + 1` (unique within a
 * process, never 0) names a local thread. @conc/process serves primitives to
 * threads of OTHER processes from a broker thread, and runs each of their
 * calls "as" a token of its own (negative numbers, so they never collide with
 * local ones). Two hooks make that possible without touching the primitives:
 *
 *   - runAsThread(token, fn): the synchronous part of `fn` sees `token`;
 *   - setThreadTokenSource(fn): consulted first on every call (the broker
 *     installs one backed by AsyncLocalStorage, so an `await` inside a
 *     primitive's method, e.g. Condition.wait re-acquiring its lock, still
 *     sees the caller's token).
 *
 * Both live on a per-thread globalThis slot, so every copy of @conc/core in a
 * thread (ESM, CJS, bundled) agrees. Threads that install nothing pay one
 * property check.
 *
 * Liveness (threadLivenessId / isThreadGone): whether a thread of this
 * process has ended, for primitives that must not wait forever on a thread
 * that died in their code (a Condition waiter, a Queue's internal lock
 * holder). A Worker that is terminate()d runs no JavaScript on its way out,
 * so only the operating system can tell: on Linux a thread is an entry of
 * /proc/self/task until it ends. The id packs the thread's kernel tid (22
 * bits: Linux's pid_max is at most 2^22) with the low 8 bits of its start
 * time (clock ticks since boot), so a tid reused by a later thread of the
 * process does not pass for the old one (it would have to reuse the tid
 * *and* start in the same tick modulo 256). Where /proc cannot be read (other
 * systems, sandboxes), ids carry NO_PROC and isThreadGone always says false:
 * a dead thread is then never detected, and primitives behave as before.
 */
import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

interface TokenSlot {
  override: number;
  source: (() => number | undefined) | null;
}

const slotKey = Symbol.for('conc.threadToken.v1');
const slot: TokenSlot = ((globalThis as any)[slotKey] ??= { override: 0, source: null });

/**
 * A non-zero Int32 naming the calling thread (`threadId + 1`), or the token
 * the calling code runs as (see {@link runAsThread}).
 */
export function currentThreadToken(): number {
  if (slot.override !== 0) return slot.override;
  if (slot.source !== null) {
    const t = slot.source();
    if (t) return t;
  }
  return threadId + 1;
}

/** Run `fn` synchronously as the thread named `token` (a non-zero Int32). Used by @conc/process. */
export function runAsThread<R>(token: number, fn: () => R): R {
  if (!Number.isInteger(token) || token === 0 || token !== (token | 0)) {
    throw new RangeError(`runAsThread: token must be a non-zero Int32, got ${token}`);
  }
  const saved = slot.override;
  slot.override = token;
  try {
    return fn();
  } finally {
    slot.override = saved;
  }
}

/** Install (or remove, with null) a source of tokens for the calling thread. Used by @conc/process. */
export function setThreadTokenSource(source: (() => number | undefined) | null): void {
  slot.source = source;
}

const TID_BITS = 22;
const TID_MASK = (1 << TID_BITS) - 1;
const START_MASK = 0xff;
/** Set in ids made without /proc: such a thread's end cannot be seen. */
const NO_PROC = 1 << 30;

let ownId = 0;

/** The kernel's tid and start time from a /proc stat line, or null if it says the thread is a zombie. */
function parseStat(line: string): { tid: number; start: number } | null {
  // "tid (comm) state ppid ... starttime ...": comm may hold spaces and ')'.
  const close = line.lastIndexOf(')');
  const fields = line.slice(close + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  // starttime is field 22 of the line; fields[] starts at field 3 (state).
  return { tid: Number.parseInt(line, 10), start: Number(fields[19]) };
}

/**
 * A non-zero 31-bit number naming the calling OS thread of this process for
 * {@link isThreadGone} (see the top of this file). Constant for the life of
 * the thread; the first call reads /proc once.
 */
export function threadLivenessId(): number {
  if (ownId !== 0) return ownId;
  let id = 0;
  try {
    const stat = parseStat(readFileSync('/proc/thread-self/stat', 'latin1'));
    if (stat && stat.tid > 0 && stat.tid <= TID_MASK && Number.isFinite(stat.start)) {
      id = stat.tid | ((stat.start & START_MASK) << TID_BITS);
    }
  } catch {
    // no /proc: a thread's end cannot be seen
  }
  ownId = id !== 0 ? id : NO_PROC | ((threadId + 1) & TID_MASK || 1);
  return ownId;
}

/**
 * True if the thread named `id` (a {@link threadLivenessId} of a thread of
 * this process) has ended. False while it runs, and whenever it cannot be
 * told (no /proc, an id of 0 or from elsewhere): callers keep waiting then.
 * Costs a read of /proc (some microseconds): for slow paths only.
 */
export function isThreadGone(id: number): boolean {
  if (id <= 0 || id & NO_PROC) return false;
  const tid = id & TID_MASK;
  let line: string;
  try {
    line = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH';
  }
  const stat = parseStat(line);
  if (stat === null) return true;
  // the tid lives on in a thread that started later: the one named has ended
  return (stat.start & START_MASK) !== ((id >>> TID_BITS) & START_MASK);
}
