/**
 * A waiter's side of the ticket queue (queue.ts has the algorithm and its
 * invariants): take a ticket, park until it is served, settle once the lock
 * is held again. Condition.wait / waitSync call these in that order, with
 * the lock released in between (condition.ts) and the spin before the park
 * decided by handoff.ts.
 */
import { waitAsync, waitSync } from '@conc/core';
import { audit } from './death.js';
import {
  cancel,
  isServed,
  lockInner,
  PARK,
  PARK_MASK,
  PARKED,
  PENDING,
  SLICE,
  serve,
  TICKETS,
  takeSlot,
  unlockInner,
} from './queue.js';

/** A ticket taken: its number, and the slot naming this thread (-1: none free). */
export interface Ticket {
  t: number;
  slot: number;
}

/**
 * Take a ticket (and a slot naming this thread, if one is free). The slot is
 * written before the ticket is issued (a waiter that dies in between leaves
 * a slot of a ticket never issued, which a repair frees). Holding the lock.
 */
export function enqueue(w: Int32Array): Ticket {
  lockInner(w);
  const t = Atomics.load(w, TICKETS);
  const slot = takeSlot(w, t);
  Atomics.store(w, TICKETS, (t + 1) | 0);
  unlockInner(w);
  return { t, slot };
}

/**
 * Park until ticket `t` is served or `timeout` ms pass, counted from the
 * park (the caller has spun already). A park lasts a SLICE at most: one that
 * lasts it audits the slots for waiters that died (death.ts), then resumes.
 */
export function parkSync(w: Int32Array, t: number, timeout: number): void {
  const start = performance.now();
  const deadline = timeout === Number.POSITIVE_INFINITY ? timeout : start + timeout;
  let sliceEnd = Math.min(deadline, start + SLICE);
  const word = PARK + (t & PARK_MASK);
  for (;;) {
    const v = Atomics.load(w, word);
    Atomics.add(w, PARKED, 1);
    if (isServed(w, t)) {
      Atomics.sub(w, PARKED, 1);
      return;
    }
    const r = waitSync(w, word, v, sliceEnd, 0);
    Atomics.sub(w, PARKED, 1);
    if (r === 'timed-out') {
      if (sliceEnd >= deadline) return;
      audit(w);
      sliceEnd = Math.min(deadline, performance.now() + SLICE);
    }
  }
}

/**
 * Park without blocking until ticket `t` is served, `deadline`, or an abort
 * (the caller audits on core's liveness tick meanwhile: a short waitAsync
 * timeout would cost a V8 task per park).
 */
export async function parkAsync(
  w: Int32Array,
  t: number,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const word = PARK + (t & PARK_MASK);
  for (;;) {
    if (signal?.aborted) return;
    const v = Atomics.load(w, word);
    Atomics.add(w, PARKED, 1);
    if (isServed(w, t)) {
      Atomics.sub(w, PARKED, 1);
      return;
    }
    const r = await waitAsync(w, word, v, deadline, signal, 0);
    Atomics.sub(w, PARKED, 1);
    if (r === 'timed-out') return;
  }
}

/**
 * Holding the lock again: was ticket `t` served? If not, take it out of the
 * queue. Frees the ticket's slot either way. An aborted waiter that was
 * served passes its wake-up on (serve(1)); the caller then rejects.
 * Returns whether it was served (false when aborted).
 */
export function settle(w: Int32Array, { t, slot }: Ticket, aborted: boolean): boolean {
  if (!aborted && isServed(w, t)) {
    // Woken, and holding the lock again. The slot goes first: cut short in
    // between, PENDING (a hint) stays one too high, nothing else.
    if (slot >= 0) Atomics.store(w, slot + 1, 0);
    Atomics.sub(w, PENDING, 1);
    return true;
  }
  let served: boolean;
  lockInner(w);
  try {
    // Re-checked under INNER: with a plain Lock, a careless notify may not hold it.
    served = isServed(w, t);
    if (!served) {
      cancel(w, t);
      if (slot >= 0) Atomics.store(w, slot + 1, 0);
    } else {
      if (aborted) serve(w, 1); // served, but the caller gave up: pass the wake-up on
      if (slot >= 0) Atomics.store(w, slot + 1, 0);
      Atomics.sub(w, PENDING, 1);
    }
  } finally {
    unlockInner(w);
  }
  return served && !aborted;
}
