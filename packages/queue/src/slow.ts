/**
 * The slow path of a queue call that could not complete at once (the lock
 * was busy, the queue full for a put or empty for a get): one loop for both
 * sides (side.ts), blocking or async. Each round: spin a little while the
 * other side is likely to act within it; else sleep on the side (flag,
 * re-check, park: no lost wake-up, see the top of queue.ts); then take the
 * side's lock (repairing one taken over from a dead holder) and run the
 * locked section again. The deadline and the signal are checked before a
 * locked section, never after: a call that fails has done nothing.
 *
 * An async call takes a busy lock in three steps (core's named futex): wait
 * until the word changes without taking, then take it in the very step that
 * runs the locked section, so no other code of this thread runs while it
 * holds the lock (a Sync call on this queue there would deadlock).
 */
import { SPIN_ASYNC, SPIN_SYNC, deadlineOf, throwIfAborted } from '@conc/core';
import { fullError, emptyError, getBusyError, putBusyError, shutEmptyError, shutError } from './errors.js';
import { type QueueState, SHUT, WAIT } from './layout.js';
import type { EncodedItem } from './record.js';
import { lockSync, lockedGet, lockedPut, ready, recover, spinUntilReady, takeItem } from './sections.js';
import type { Side } from './side.js';

/** Options of the wait a slow path does. */
interface SlowWait {
  timeout?: number;
  signal?: AbortSignal;
}

/** What a queue's error messages need besides QueueState. */
interface Slow extends QueueState {
  qsize(): number;
}

function pastDeadline(deadline: number): boolean {
  return deadline !== Number.POSITIVE_INFINITY && performance.now() >= deadline;
}

/** Run `side`'s locked section (the lock held): a put of `item`, or a get. */
function attempt(q: QueueState, side: Side, item: EncodedItem | null, restore: boolean): unknown {
  return side === q.putters ? lockedPut(q, item!, restore) : lockedGet(q);
}

/** The error of a call that waited until its deadline (`busy`: for the lock). */
function timedOut(
  q: Slow,
  side: Side,
  item: EncodedItem | null,
  method: string,
  timeout: number | undefined,
  busy: boolean,
) {
  if (side === q.putters) return busy ? putBusyError(method, timeout) : fullError(q, method, item!.size, timeout);
  return busy ? getBusyError(method, timeout) : emptyError(method, timeout);
}

/** The error of a call refused by a shutdown. */
function refused(q: QueueState, side: Side, method: string) {
  return side === q.putters ? shutError(method) : shutEmptyError(method);
}

/**
 * Blocking slow path of `side`'s call (`item`: a put's, null for a get),
 * whose first locked section returned `r` (WAIT or SHUT). Returns the item
 * got (undefined for a put), or throws.
 */
export function slowSync(
  q: Slow,
  side: Side,
  item: EncodedItem | null,
  r: unknown,
  deadline: number,
  timeout: number | undefined,
  method: string,
): unknown {
  for (;;) {
    if (r === SHUT) throw refused(q, side, method);
    if (pastDeadline(deadline)) throw timedOut(q, side, item, method, timeout, false);
    if (!spinUntilReady(q, side, item, SPIN_SYNC, false)) {
      const seq = side.sleep();
      if (!ready(q, side, item, false)) side.parkSync(seq, deadline);
      side.leave();
    }
    if (!lockSync(q, side, deadline)) throw timedOut(q, side, item, method, timeout, true);
    r = attempt(q, side, item, false);
    if (r !== WAIT && r !== SHUT) return takeItem(r);
  }
}

/**
 * Async slow path of `side`'s call (`item`: a put's, owning its bytes; null
 * for a get), from the top: the lock is not held. `restore`: a put-back
 * (RESTORE in queue.ts). Resolves to the item got (undefined for a put).
 */
export async function slowAsync(
  q: Slow,
  side: Side,
  item: EncodedItem | null,
  options: SlowWait | undefined,
  method: string,
  restore = false,
): Promise<unknown> {
  const signal = options?.signal;
  const timeout = options?.timeout;
  const deadline = deadlineOf(timeout);
  let waited = false;
  for (;;) {
    throwIfAborted(signal);
    const v = side.takeOrMark(waited);
    if (v !== 0) {
      if (pastDeadline(deadline)) throw timedOut(q, side, item, method, timeout, true);
      waited = true;
      const gone = await side.waitFree(v, deadline, signal);
      throwIfAborted(signal);
      if (!gone || !side.takeOver(v)) continue;
      recover(q, side);
    }
    waited = false;
    const r = attempt(q, side, item, restore);
    if (r === SHUT) throw refused(q, side, method);
    if (r !== WAIT) return takeItem(r);
    if (pastDeadline(deadline)) throw timedOut(q, side, item, method, timeout, false);
    if (spinUntilReady(q, side, item, SPIN_ASYNC, restore)) continue;
    const seq = side.sleep();
    try {
      if (ready(q, side, item, restore)) continue;
      await side.parkAsync(seq, deadline, signal);
    } finally {
      side.leave();
    }
    throwIfAborted(signal);
  }
}
