/**
 * Who is calling: a non-zero Int32 token per thread, used as an owner id (RLock).
 *
 * Shared memory never leaves its process, so `threadId + 1` (unique within a
 * process, never 0) names a local thread. @conc/process serves primitives to
 * threads of OTHER processes from a broker thread, and runs each of their
 * calls "as" a token of its own (negative numbers, so they never collide with
 * local ones): it installs a source of tokens with setThreadTokenSource(fn),
 * consulted first on every call (backed by AsyncLocalStorage, so an `await`
 * inside a primitive's method, e.g. Condition.wait re-acquiring its lock,
 * still sees the caller's token).
 *
 * The source lives on a per-thread globalThis slot, so every copy of
 * @conc/core in a thread (ESM, CJS, bundled) agrees. Threads that install
 * none pay one property check.
 */
import { threadId } from 'node:worker_threads';

interface TokenSlot {
  source: (() => number | undefined) | null;
}

const slotKey = Symbol.for('conc.threadToken.v1');
const slot: TokenSlot = ((globalThis as any)[slotKey] ??= { source: null });

/**
 * A non-zero Int32 naming the calling thread (`threadId + 1`), or the token
 * the installed source (see {@link setThreadTokenSource}) gives the calling code.
 */
export function currentThreadToken(): number {
  if (slot.source !== null) {
    const t = slot.source();
    if (t) return t;
  }
  return threadId + 1;
}

/** Install (or remove, with null) a source of tokens for the calling thread. Used by @conc/process. */
export function setThreadTokenSource(source: (() => number | undefined) | null): void {
  slot.source = source;
}
