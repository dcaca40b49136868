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
 */
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
