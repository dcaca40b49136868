/**
 * Who is calling: a non-zero Int32 token per thread, used as an owner id (RLock).
 *
 * On the 'threads' backend shared memory never leaves its process, so
 * `threadId + 1` (unique within a process, never 0) names a local thread.
 * On the 'shm' backend the same words are used by threads of several
 * processes, so a token is taken from the arena's counter instead (unique in
 * the whole process tree; arena.ts), once per thread: by the thread that
 * starts a conc Thread, for it (liveness.ts hands it over in the boot data),
 * or at first use. @conc/process's broker (the fallback) serves primitives to
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
import { arena, registerToken, takeToken } from './arena.js';

interface TokenSlot {
  source: (() => number | undefined) | null;
  /** This thread's own token, once known (0 before). */
  own: number;
}

const slotKey = Symbol.for('conc.threadToken.v1');
const slot: TokenSlot = ((globalThis as any)[slotKey] ??= { source: null, own: 0 });
slot.own ??= 0;

/** A token for a thread about to start (the 'shm' backend), or 0 (it will be threadId + 1). */
export function newThreadToken(): number {
  const a = arena();
  return a === null ? 0 : takeToken(a);
}

/** The calling thread's own token, never overridden by a token source. */
export function ownThreadToken(): number {
  if (slot.own !== 0) return slot.own;
  const a = arena();
  slot.own = a === null ? threadId + 1 : takeToken(a);
  if (a !== null) registerToken(a, slot.own);
  return slot.own;
}

/** Adopt the token the starting thread took for this one (boot data; 0: take one as usual). */
export function adoptThreadToken(token: number): void {
  if (token === 0 || slot.own !== 0) return;
  slot.own = token;
  const a = arena();
  if (a !== null) registerToken(a, token);
}

/**
 * A non-zero Int32 naming the calling thread (`threadId + 1`), or the token
 * the installed source (see {@link setThreadTokenSource}) gives the calling code.
 */
export function currentThreadToken(): number {
  if (slot.source !== null) {
    const t = slot.source();
    if (t) return t;
  }
  return slot.own !== 0 ? slot.own : ownThreadToken();
}

/** Install (or remove, with null) a source of tokens for the calling thread. Used by @conc/process. */
export function setThreadTokenSource(source: (() => number | undefined) | null): void {
  slot.source = source;
}
