/**
 * The locked sections of a queue: what a put and a get do to the ring while
 * holding their side's lock, and the repair a lock taken over from a dead
 * holder needs first. The algorithm and its invariants are at the top of
 * queue.ts; the words are layout.ts's.
 *
 * Death: a thread that dies in a locked section (a Worker terminate()d in
 * putSync of a 4 MiB item) leaves its lock word naming it; a waiter that
 * finds the holder gone takes the lock over (side.ts, core's named futex: one
 * taker) and runs {@link recover} before its own section. Each section writes
 * in an order such that any prefix of it is repairable from the tags:
 *   put: the record bytes (past TAIL: invisible), then TAIL with the tag
 *     of PUT_COUNT + 1, then PUT_COUNT. TAIL's tag ahead of PUT_COUNT means
 *     the record is whole but unpublished: publish it (the item is there,
 *     once, though its put never returned). Else nothing was published, and
 *     the next put writes over the half-written bytes: a half-written record
 *     is never readable.
 *   get: the record is read, then GET_COUNT, then HEAD with the new tag.
 *     HEAD's tag behind GET_COUNT means the record was not freed: take
 *     GET_COUNT back (the item stays in the queue, for the next get: its
 *     consumer died before taking it). The cost: producers may have read
 *     that GET_COUNT, so one put may pass maxsize until the next get.
 *   immediate shutdown (under both locks): GET_COUNT = PUT_COUNT, then HEAD
 *     = TAIL. Cut short between the two, recover finishes the drop. (Cut
 *     short after them and before DONE is raised, a JoinableQueue counts
 *     the dropped items as unfinished.)
 *   The shape table's lock names its holder too and is taken over the same
 *   way (shapes.ts); it needs no repair.
 */
import { LOCK_TIMED_OUT, LOCK_TOOK_OVER } from '@conc/core';
import {
  GET_COUNT,
  GOT_SEEN,
  HEAD,
  HEAD_SEEN,
  POS,
  PUT_COUNT,
  PUT_SEEN,
  type QueueState,
  SHUT,
  SHUTDOWN,
  TAG,
  TAIL,
  WAIT,
} from './layout.js';
import { type EncodedItem, RecordReader, V8_PENDING, writeRecord } from './record.js';
import type { Side } from './side.js';

/** This thread's record reader: lockedGet reads with it, {@link takeItem} finishes a V8 item after unlocking. */
const reader = new RecordReader();

/** The item a get returns, from what {@link lockedGet} returned (a V8 item is deserialized now, unlocked). */
export function takeItem(v: unknown): unknown {
  return v === V8_PENDING ? reader.takeV8() : v;
}

/** Take `side`'s lock, blocking until `deadline` (false if it passes first); repairs a lock taken over. */
export function lockSync(q: QueueState, side: Side, deadline = Number.POSITIVE_INFINITY): boolean {
  return side.tryLock() || lockSlow(q, side, deadline);
}

/** The blocking slow path of {@link lockSync} (the caller's tryLock failed). */
export function lockSlow(q: QueueState, side: Side, deadline: number): boolean {
  const r = side.lockSync(deadline);
  if (r === LOCK_TOOK_OVER) recover(q, side);
  return r !== LOCK_TIMED_OUT;
}

/**
 * Holding `side`'s lock, taken over from a holder that died in its locked
 * section: finish or undo what the section left half done (see the top).
 *   put side: TAIL's tag one ahead of PUT_COUNT means TAIL moved past a
 *     record written whole, not yet published: publish it (the item is in
 *     the queue, once). Else nothing is visible: a record written past
 *     TAIL is overwritten by the next put.
 *   get side: HEAD's tag behind GET_COUNT means the count moved and the
 *     record was not freed: take the count back (the item stays in the
 *     queue, for the next get). Unless an immediate shutdown was dropping
 *     everything (SHUTDOWN 2, GET_COUNT == PUT_COUNT): finish the drop.
 */
export function recover(q: QueueState, side: Side): void {
  // Atomics throughout: these words were last written by the dead thread,
  // with no unlock to order its writes before our reads.
  const w = q.words;
  if (side === q.putters) {
    const put = Atomics.load(w, PUT_COUNT);
    if ((Atomics.load(w, TAIL) & TAG) !== (put & TAG)) {
      Atomics.store(w, PUT_COUNT, (put + 1) | 0);
      q.getters.wake();
    }
    return;
  }
  const got = Atomics.load(w, GET_COUNT);
  if ((Atomics.load(w, HEAD) & TAG) === (got & TAG)) return;
  if (Atomics.load(w, SHUTDOWN) === 2 && got === Atomics.load(w, PUT_COUNT)) {
    Atomics.store(w, PUT_SEEN, got);
    Atomics.store(w, HEAD, Atomics.load(w, TAIL));
  } else {
    Atomics.store(w, GET_COUNT, (got - 1) | 0);
  }
}

/** Does the shutdown state refuse a put (`restore`: a put-back, refused by an immediate shutdown only)? */
export function refuses(q: QueueState, restore: boolean): boolean {
  const shut = Atomics.load(q.words, SHUTDOWN);
  return restore ? shut === 2 : shut !== 0;
}

/**
 * Holding PUT_LOCK: enqueue `item` if there is room (`restore`: a put-back,
 * see RESTORE in queue.ts). Releases the lock. Returns undefined (put), WAIT
 * (full) or SHUT.
 */
export function lockedPut(q: QueueState, item: EncodedItem, restore = false): undefined | typeof WAIT | typeof SHUT {
  const w = q.words;
  // Plain reads: these words are written only under PUT_LOCK (SHUTDOWN too).
  if (w[SHUTDOWN] !== 0 && !(restore && w[SHUTDOWN] === 1)) {
    q.putters.unlock();
    return SHUT;
  }
  const put = w[PUT_COUNT];
  const tail = w[TAIL] & POS;
  const maxsize = q.maxsize;
  const span = q.span;
  const cap = q.byteCapacity;
  let used = tail - w[HEAD_SEEN];
  if (used < 0) used += span;
  if (cap - used < item.size || (maxsize > 0 && ((put - w[GOT_SEEN]) | 0) >= maxsize)) {
    // Looks full by what producers saw last: look again (HEAD first, see hasRoom).
    const head = Atomics.load(w, HEAD) & POS;
    const got = Atomics.load(w, GET_COUNT);
    w[HEAD_SEEN] = head;
    w[GOT_SEEN] = got;
    used = tail - head;
    if (used < 0) used += span;
    if (cap - used < item.size || (maxsize > 0 && ((put - got) | 0) >= maxsize)) {
      q.putters.unlock();
      return WAIT;
    }
  }
  writeRecord(q.ring, tail < cap ? tail : tail - cap, item);
  let next = tail + item.size;
  if (next >= span) next -= span;
  const count = (put + 1) | 0;
  w[TAIL] = next | (count & TAG); // the record is whole: a takeover rolls forward from here
  Atomics.store(w, PUT_COUNT, count); // publishes the record
  q.putters.unlock();
  q.getters.wake();
  return undefined;
}

/**
 * Holding GET_LOCK: dequeue one item (V8_PENDING for a V8 record: see
 * {@link takeItem}), WAIT (empty) or SHUT (shut down and empty). Releases the lock.
 */
export function lockedGet(q: QueueState): unknown {
  const w = q.words;
  // Plain reads: these words are written only under GET_LOCK.
  const got = w[GET_COUNT];
  if (w[PUT_SEEN] === got) {
    let put = Atomics.load(w, PUT_COUNT);
    if (put === got) {
      // Empty; and SHUTDOWN was clear then if it is clear now.
      if (Atomics.load(w, SHUTDOWN) === 0) {
        q.getters.unlock();
        return WAIT;
      }
      // Shut down: empty for good if still empty now (no put follows the
      // flag); else an item put just before the shutdown is there to take.
      put = Atomics.load(w, PUT_COUNT);
      if (put === got) {
        q.getters.unlock();
        return SHUT;
      }
    }
    w[PUT_SEEN] = put;
  }
  const head = w[HEAD] & POS;
  const cap = q.byteCapacity;
  const value = reader.read(q.ring, head < cap ? head : head - cap);
  let next = head + reader.size;
  if (next >= q.span) next -= q.span;
  const count = (got + 1) | 0;
  w[GET_COUNT] = count; // a takeover before the HEAD store rolls this back
  Atomics.store(w, HEAD, next | (count & TAG)); // frees the record's bytes (and publishes GET_COUNT)
  q.getters.unlock();
  q.putters.wake();
  return value;
}

/** True while an item is in the queue (by the counts). */
function available(q: QueueState): boolean {
  const w = q.words;
  return Atomics.load(w, PUT_COUNT) !== Atomics.load(w, GET_COUNT);
}

/**
 * Room for `size` bytes, by a waiting putter's re-check. HEAD is read first:
 * its seq-cst store follows the GET_COUNT write, so a HEAD that shows a get
 * comes with that get's count. A stale TAIL (plain-written by producers)
 * is older, which over-estimates room: a spare retry, never a missed wake.
 */
function hasRoom(q: QueueState, size: number): boolean {
  const w = q.words;
  const head = Atomics.load(w, HEAD) & POS;
  const got = Atomics.load(w, GET_COUNT);
  if (q.maxsize > 0 && ((Atomics.load(w, PUT_COUNT) - got) | 0) >= q.maxsize) return false;
  let used = (Atomics.load(w, TAIL) & POS) - head;
  if (used < 0) used += q.span;
  return q.byteCapacity - used >= size;
}

/**
 * Whether a caller waiting on `side` may go on now: a putter (`item` given)
 * if there is room for it or a shutdown refuses it; a getter if an item is
 * there or the queue is shut down.
 */
export function ready(q: QueueState, side: Side, item: EncodedItem | null, restore: boolean): boolean {
  return side === q.putters
    ? hasRoom(q, item!.size) || refuses(q, restore)
    : available(q) || Atomics.load(q.words, SHUTDOWN) !== 0;
}

/** Poll {@link ready} up to `spins` times. */
export function spinUntilReady(
  q: QueueState,
  side: Side,
  item: EncodedItem | null,
  spins: number,
  restore: boolean,
): boolean {
  for (let i = 0; i < spins; i++) if (ready(q, side, item, restore)) return true;
  return false;
}
