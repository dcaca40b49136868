/**
 * Condition waiters that die (DESIGN.md, "Death"): the slots of the ticket
 * queue (queue.ts) name who waits on which ticket, so that what a dead
 * waiter would have done can be done for it.
 *
 * Death: a waiter that dies (a Worker terminate()d in waitSync, a thread
 * that calls process.exit() during `await cond.wait()`) absorbs no notify.
 * Its slot names it; a live waiter whose park lasts a whole SLICE (async:
 * on each of core's liveness ticks while parked) audits the slots: it asks
 * @conc/core's isThreadGone about each other thread named there (a read of
 * core's liveness table, outside INNER), and for one that is gone, under
 * INNER, does what the dead waiter would have done (reclaim):
 *   - its ticket still waits: cancel it, so no later notify counts it;
 *   - it was served and never came back: pass the wake-up on, to the oldest
 *     ticket still waiting from before the slot's horizon (none such: nobody
 *     that notify could have woken is left, and the wake-up goes);
 *   - else (it had cancelled its ticket already): free the slot.
 * So a notify that went to a dead ticket reaches a live waiter within a
 * SLICE or so. INNER names its holder: a waiter for INNER that parked a
 * whole SLICE on the same holder asks whether it is gone and then takes
 * INNER over by CAS (one taker) and repairs (repairInner): every section
 * writes in an order such that any prefix of it leaves at worst ghosts
 * outside [SERVED, TICKETS) (dropped), slots of the dead thread (reclaimed),
 * PENDING off by one, or served parked waiters not yet woken (woken).
 * Limits: only seven waiters at a time have a slot (a dead waiter without
 * one can absorb a notify, as before); only threads started by conc are
 * watched (a raw `new Worker` is never reported gone); a waiter that dies after its notify woke it
 * but within the few instructions that free its slot takes the wake-up
 * with it, as one that returned and then died.
 */
import { isThreadGone } from '@conc/core';
import {
  cancel,
  isGhost,
  isServed,
  LIFE_MASK,
  lockInner,
  ME,
  NGHOSTS,
  PENDING,
  serve,
  SLOT,
  SLOT_END,
  TICKETS,
  unlockInner,
} from './queue.js';

/**
 * The slot at `k` holds `mark`: the liveness id of a thread that is gone,
 * with SERVED_MARK if its ticket was served. Do what its wait would have
 * done. Under INNER.
 *   - served, and it never came back: pass the wake-up on to the oldest
 *     ticket still waiting from before the horizon (none: nobody that
 *     notify could have woken is left), then free the slot (in that order:
 *     cut short in between, the wake-up is passed on twice, a spurious
 *     wake-up, never lost);
 *   - its ticket waits: cancel it (unless it is a ghost already);
 *   - else (cancelled already, or never issued: a section cut short): free
 *     the slot.
 */
function reclaim(w: Int32Array, k: number, mark: number): void {
  const t = Atomics.load(w, k);
  if (mark < 0) {
    Atomics.sub(w, PENDING, 1);
    serve(w, 1, t);
  } else if (
    ((Atomics.load(w, TICKETS) - t) | 0) > 0 &&
    !isServed(w, t) &&
    !(Atomics.load(w, NGHOSTS) > 0 && isGhost(w, t))
  ) {
    cancel(w, t);
  }
  Atomics.store(w, k + 1, 0);
}

/** Reclaim every slot whose thread is in `gone`. Under INNER. */
export function reclaimAll(w: Int32Array, gone: number[]): void {
  for (let k = SLOT; k < SLOT_END; k += 2) {
    const mark = Atomics.load(w, k + 1);
    if (mark !== 0 && gone.includes(mark & LIFE_MASK)) reclaim(w, k, mark);
  }
}

/**
 * Look for slots of threads that are gone, and reclaim them. Called by a
 * waiter whose park lasted a whole SLICE. The liveness checks (reads of
 * core's liveness table) run before INNER is taken; a thread found gone stays gone.
 */
export function audit(w: Int32Array): void {
  let gone: number[] | undefined;
  let alive: number[] | undefined;
  for (let k = SLOT; k < SLOT_END; k += 2) {
    const life = Atomics.load(w, k + 1) & LIFE_MASK;
    if (life === 0 || life === ME || alive?.includes(life) || gone?.includes(life)) continue;
    if (isThreadGone(life)) (gone ??= []).push(life);
    else (alive ??= []).push(life);
  }
  if (gone === undefined) return;
  lockInner(w);
  try {
    reclaimAll(w, gone);
  } finally {
    unlockInner(w);
  }
}
