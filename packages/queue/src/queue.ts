/**
 * Queue and JoinableQueue: Python's `queue.Queue` (and multiprocessing's
 * JoinableQueue) as a byte ring in shared memory, driven by Atomics.
 *
 * Memory: one allocation of Int32 words (allocateWords): 6 header lines of
 * 64 bytes, then the ring of `cap` bytes (a multiple of 4), then the shape
 * table (SHAPE_TABLE_BYTES: the key lists of flat objects, codec.ts Shapes).
 * Each item is one record in the ring (codec.ts: a header word, then its bytes).
 *
 *   config   CAPACITY MAXSIZE KIND SHUTDOWN             written once (SHUTDOWN: under PUT_LOCK)
 *            SHAPES (lock, count, bytes)                shape table, appended under its own lock
 *   put side PUT_LOCK TAIL PUT_COUNT HEAD_SEEN GOT_SEEN written by producers only
 *            (PUT_LOCK + 8: async waiters on PUT_LOCK)
 *   get side GET_LOCK HEAD GET_COUNT PUT_SEEN           written by consumers only
 *            (GET_LOCK + 8: async waiters on GET_LOCK)
 *   getters  GET_WAITERS GET_SLEEPY NOT_EMPTY           sleeping consumers: count, flag, eventcount
 *   putters  PUT_WAITERS PUT_SLEEPY NOT_FULL            sleeping producers: the same
 *   join     DONE JOIN_WAITERS                          JoinableQueue: taskDone calls (+ dropped items)
 *
 * Two locks (Michael & Scott's two-lock queue, over a ring): producers
 * serialize on PUT_LOCK, consumers on GET_LOCK, and the two sides meet only
 * through atomic loads of each other's line. One producer and one consumer
 * never contend. A lock is core's three-state futex (fast paths inlined
 * here) with the holder's name in it: 0 free, else the holder thread's
 * liveness id << 1 (core's threadLivenessId), bit 0 set while waiters may be
 * parked (the futex's state 2). A waiter parks on a lock never past its
 * call's deadline: a timeout is always honoured, however long another
 * thread holds the lock.
 *
 * Positions: HEAD and TAIL run over [0, 2*cap) (twice the ring, so that full
 * and empty differ): used = (TAIL - HEAD) mod 2*cap, a record starts at byte
 * (pos mod cap). Positions are multiples of 4; the low two bits of the HEAD
 * and TAIL words (TAG) hold GET_COUNT, resp. PUT_COUNT, mod 4 as of their
 * last store (see Death). PUT_COUNT and GET_COUNT count items put and got, as
 * wrapping Int32s; the queue holds (PUT_COUNT - GET_COUNT) items. Each side
 * caches what it last saw of the other (HEAD_SEEN, GOT_SEEN; PUT_SEEN) and
 * looks at the other side's line only when its cache says full (or empty):
 * a consumer that is behind takes a whole batch for one read of PUT_COUNT.
 *
 *   put (holding PUT_LOCK): if SHUTDOWN, fail. If the item count is at
 *     maxsize, or fewer than `size` bytes are free (by the cache, then by a
 *     fresh look), it is FULL: release and wait. Else write the record at
 *     TAIL; wrap-around: a record whose bytes run past the ring's end goes on
 *     at byte 0 (its header and payload words never straddle the end, as cap
 *     and records are multiples of 4; byte payloads are copied in two pieces).
 *     Then TAIL (plain, tagged with the new count), and last the seq-cst
 *     store of PUT_COUNT, which publishes the record.
 *   get (holding GET_LOCK): if GET_COUNT == PUT_SEEN, read PUT_COUNT; equal
 *     too: EMPTY (SHUTDOWN read then, and the count read again: shut down
 *     and empty for good). Else read the record at HEAD (small kinds decoded
 *     in place, node:v8 bytes copied out and deserialized after unlocking),
 *     write GET_COUNT (plain), and last the seq-cst store of HEAD (tagged
 *     with the new count), which frees the bytes.
 *
 * Death: a thread that dies in a locked section (a Worker terminate()d in
 * putSync of a 4 MiB item) leaves its lock word naming it. A blocking
 * waiter parks for a SLICE at most, and one whose park lasted it with that
 * same word asks core's isThreadGone (an async waiter asks on core's
 * liveness tick); if the holder is gone it takes the lock over by CAS (one
 * taker) and repairs the section before its own (recover). Each section writes in an
 * order such that any prefix of it is repairable from the tags:
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
 *   way (codec.ts lockShapes); it needs no repair.
 * Counts stay exact: qsize() is the number of whole records, and (for a
 * JoinableQueue) unfinishedTasks is PUT_COUNT - DONE, raised by the very
 * store that publishes an item, so no section can leave it off by one.
 * Only threads started by conc are watched (core's liveness.ts): a holder in
 * a raw `new Worker` that dies is never taken over; its lock stays held, and
 * every call with a timeout still times out.
 *
 * Invariants:
 *   - A record's bytes are written before the PUT_COUNT store that publishes
 *     it, and read before the HEAD store that frees them; the other side
 *     reads PUT_COUNT (HEAD) with seq-cst loads. So a consumer never reads a
 *     half-written record and a producer never overwrites an unread one.
 *     Words each side writes only under its own lock are read plainly there.
 *   - Caches and cross-side reads only lag: HEAD, GET_COUNT and PUT_COUNT
 *     only grow (but for the take-back in Death), so a stale value
 *     under-estimates room or items, never over
 *     (it costs a fresh look, not a corrupt write). A producer reads HEAD
 *     before GET_COUNT: the HEAD store follows the GET_COUNT write, so a
 *     HEAD that shows a get comes with that get's count.
 *   - A put that fails (full, timed out, aborted, shut down, bad item) has
 *     written nothing a consumer can see: the item is serialized before the
 *     lock is taken (a DataCloneError or RangeError leaves the queue as it
 *     was), and its bytes count only from the PUT_COUNT store, made in the
 *     same locked section that found room. Room is re-checked in that
 *     section; nothing is reserved while waiting. (Serializing may add a shape
 *     to the shape table; that is not an item, and the table only grows.)
 *   - A get that fails (empty, timed out, aborted) consumed nothing: an item
 *     is taken only in the locked section that found it, and that section
 *     runs only if the call is going to return it (the signal and the
 *     deadline are checked before it, never after).
 *   - No lost wake-up (an eventcount and a flag per side): a waiter first
 *     polls (SPIN_SYNC / SPIN_ASYNC loads), so a running peer is caught
 *     without a park. Then it reads the eventcount, raises the SLEEPY flag,
 *     re-checks its condition, and parks only while the eventcount still
 *     holds the value read. A put, after its PUT_COUNT store, loads
 *     GET_SLEEPY; if raised it exchanges it to 0, bumps NOT_EMPTY and
 *     notifies all. Seq-cst order: either the waiter's re-check sees the put,
 *     or the put sees the flag, and then the bump comes after the waiter read
 *     the eventcount: the park returns at once or the notify finds it. The
 *     eventcount is read before the flag is raised, so a flag cleared by a
 *     wake-up meant for earlier sleepers still comes with a bump this waiter
 *     sees. Gets wake putters the same way (PUT_SLEEPY, NOT_FULL).
 *   - Batching: one notify per sleep, not per item. The first put after a
 *     consumer falls asleep clears the flag and wakes it; the puts made while
 *     it wakes up (~30 us, or a time slice on a loaded machine) see no flag
 *     and pay nothing. A consumer that keeps up with its producer spins,
 *     never sleeps, and is never notified.
 *   - Whom to wake: every sleeper on that side. Woken getters race for the
 *     item and the losers go back to sleep (raising the flag again); putters
 *     wait for room of different sizes. Waking all also means a waiter that
 *     leaves without acting (aborted, timed out) never strands a wake-up
 *     another one needed, and an async waiter whose event loop is busy
 *     (even blocked in a Sync call on this queue) cannot sit on the only one.
 *   - Locks are never held across an await nor while waiting for room or
 *     items; an async call takes a busy lock by waiting asynchronously on the
 *     lock word (then taking it marked contended, as core's futex does with
 *     exchange(2)), and runs its locked section in the same synchronous step
 *     that took it (a takeover and its repair included).
 *     An async waiter counts itself in the word 8 after the lock's while it
 *     waits, and an unlock that finds any wakes every waiter of the lock, not
 *     one: a single wake-up taken by an async waiter whose event loop is busy
 *     (or blocked in a Sync call on this very lock) would leave a parked
 *     blocking waiter asleep on a free lock.
 *   - shutdown(): sets SHUTDOWN under PUT_LOCK, so every put is before it
 *     (and visible) or after it (and refused), but for one: @conc/process's
 *     broker puts back ([RESTORE]) items it had got for a consumer process
 *     that did not take them (given back, or the process died); they were in
 *     the queue before the shutdown, so only an immediate one refuses them
 *     (Python's get drains what is left). Immediate also takes GET_LOCK
 *     and drops what is left (HEAD = TAIL), marking each dropped item done.
 *     Then it bumps both eventcounts and wakes everyone, who re-check.
 *   - JoinableQueue: unfinished = PUT_COUNT - DONE rises with the store that
 *     makes an item visible (a fast consumer's taskDone can never see it
 *     early), and falls by a CAS on DONE in taskDone, which refuses to go
 *     below 0. join waits on DONE; the taskDone that reaches 0 notifies all
 *     when JOIN_WAITERS says any (as does an immediate shutdown).
 */
import {
  ConcRuntimeError,
  SPIN_ASYNC,
  SPIN_SYNC,
  type SharedWords,
  type WaitOptions,
  type WaitResult,
  allocateWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  describeWords,
  isThreadGone,
  onLivenessTick,
  registerShareable,
  remaining,
  threadLivenessId,
  throwIfAborted,
  waitAsync,
  waitSync,
  wordsView,
} from '@conc/core';
import {
  MAX_PAYLOAD,
  type Rec,
  type Ring,
  SHAPE_TABLE_BYTES,
  Shapes,
  V8_PENDING,
  encodeItem,
  readOut,
  readRecord,
  scratchRec,
  snapshot,
  takeV8,
  writeRecord,
} from './codec.js';
import { QueueEmpty, QueueFull, QueueShutDown } from './errors.js';

/** Options of a blocking wait: a timeout only (nothing can abort a blocked thread). */
export type SyncWaitOptions = Omit<WaitOptions, 'signal'>;

/** Options of `new Queue(maxsize, options)`. */
export interface QueueOptions {
  /**
   * Bytes of shared memory for the items (default 1 MiB, at most 256 MiB;
   * rounded up to a multiple of 4). An item takes 4 bytes (small integers,
   * booleans, null, undefined) to 4 + its serialized size; `put` waits while
   * the item does not fit, and throws RangeError if it never could.
   */
  byteCapacity?: number;
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /** Drop the items left and make `get` throw at once (each dropped item counts as done). */
  immediate?: boolean;
}

const LINE = 16; // Int32 words per 64-byte cache line
const CAPACITY = 0;
const MAXSIZE = 1;
const KIND = 2;
const SHUTDOWN = 3;
/** Shape table (codec.ts): lock, count, bytes used; the table follows the ring. */
const SHAPES = 4;
const PUT_LOCK = LINE;
const TAIL = LINE + 1;
const PUT_COUNT = LINE + 2;
const HEAD_SEEN = LINE + 3;
const GOT_SEEN = LINE + 4;
const GET_LOCK = 2 * LINE;
/** Offset from a lock word to its count of async waiters (a spare word of the same line). */
const ASYNC_LOCKERS = 8;
const HEAD = 2 * LINE + 1;
const GET_COUNT = 2 * LINE + 2;
const PUT_SEEN = 2 * LINE + 3;
const GET_WAITERS = 3 * LINE;
const GET_SLEEPY = 3 * LINE + 1;
const NOT_EMPTY = 3 * LINE + 2;
const PUT_WAITERS = 4 * LINE;
const PUT_SLEEPY = 4 * LINE + 1;
const NOT_FULL = 4 * LINE + 2;
/** JoinableQueue: taskDone() calls and dropped items; unfinished = PUT_COUNT - DONE. */
const DONE = 5 * LINE;
const JOIN_WAITERS = 5 * LINE + 1;
const HEADER_WORDS = 6 * LINE;
/**
 * HEAD and TAIL are byte positions, multiples of 4; their low two bits (TAG)
 * hold their side's count mod 4 as of their last store (GET_COUNT, resp.
 * PUT_COUNT): a lock taken over from a dead holder tells from them whether
 * the section stopped between the position and the count (see recover).
 */
const TAG = 3;
const POS = ~TAG;

const KIND_QUEUE = 1;
const KIND_JOINABLE = 2;

const DEFAULT_CAPACITY = 1 << 20;
const MIN_CAPACITY = 16;
const MAX_CAPACITY = MAX_PAYLOAD + 1; // 256 MiB

// Outcomes of a locked section.
const OK = 0;
const FULL = 1;
const SHUT = 2;
const EMPTY: unique symbol = Symbol('empty');

/**
 * @internal For @conc/process's broker (which does not load this package):
 * `queue[RESTORE](item)` puts back an item it got for a consumer process that
 * did not take it. As `put`, except that a shutdown without `immediate` does
 * not refuse it; resolves false if an immediate shutdown dropped it.
 */
const RESTORE = Symbol.for('conc.queue.restore.v1');
const SHUT_EMPTY: unique symbol = Symbol('shut down and empty');

function namesFor(label: string) {
  const m = (name: string) => `${label}.${name}`;
  return {
    label,
    put: m('put'),
    putSync: m('putSync'),
    putNowait: m('putNowait'),
    get: m('get'),
    getSync: m('getSync'),
    getNowait: m('getNowait'),
    shutdown: m('shutdown'),
  };
}
type Names = ReturnType<typeof namesFor>;
const QUEUE_NAMES = namesFor('Queue');
const JOINABLE_NAMES = namesFor('JoinableQueue');

// ---- the two locks -----------------------------------------------------------
//
// Each lock is one word: 0 free, else the holder's liveness id << 1 (core's
// threadLivenessId), bit 0 set while waiters may be parked (core's futex
// state 2). The holder is thus written by the very CAS that takes the lock,
// so a holder that dies in its locked section is always known: a waiter
// parks for a SLICE at most, and one that finds the same holder still there
// asks whether that holder's thread is gone, and then takes the lock over
// (one CAS: a single taker) and repairs the section (see recover).

/** The lock word while this thread holds a lock (bit 0 clear). */
const HELD = threadLivenessId() << 1;
/** The longest park (ms) on a lock before asking whether its holder is gone. */
const SLICE = 25;
/** Polls of a busy lock before parking (as core's futex: hand-offs only). */
const SPIN_LOCK = 20;
// Outcomes of a blocking lock.
const TIMED_OUT = 0;
const TAKEN = 1;
const TAKEN_OVER = 2;

/**
 * Blocking slow path: take lock `i` before `deadline`: TAKEN, TAKEN_OVER
 * (from a holder that died: the caller must recover) or TIMED_OUT.
 */
function lockSlowSync(w: Int32Array, i: number, deadline: number): number {
  for (let n = 0; n < SPIN_LOCK; n++) {
    const v = Atomics.load(w, i);
    if (v === 0 && Atomics.compareExchange(w, i, 0, HELD) === 0) return TAKEN;
    if (v & 1) break;
  }
  for (;;) {
    const v = lockOrMark(w, i, true);
    if (v === 0) return TAKEN;
    const left = remaining(deadline);
    if (left === 0) return TIMED_OUT;
    if (Atomics.wait(w, i, v, Math.min(left, SLICE)) === 'timed-out' && takeOver(w, i, v)) return TAKEN_OVER;
  }
}

/**
 * Take lock `i` if it is free (marked contended if `waited`: this caller
 * was parked, others may still be, and only the mark makes the unlock wake
 * one of them), and return 0; else mark it contended and return the word to
 * park on.
 */
function lockOrMark(w: Int32Array, i: number, waited: boolean): number {
  for (;;) {
    const v = Atomics.load(w, i);
    if (v === 0) {
      if (Atomics.compareExchange(w, i, 0, waited ? HELD | 1 : HELD) === 0) return 0;
    } else if (v & 1) {
      return v;
    } else if (Atomics.compareExchange(w, i, v, v | 1) === v) {
      return v | 1;
    }
  }
}

/** After a whole SLICE parked on `v` (blocking waits): if its holder's thread is gone, take the lock over (true). */
function takeOver(w: Int32Array, i: number, v: number): boolean {
  return Atomics.load(w, i) === v && isThreadGone(v >>> 1) && Atomics.compareExchange(w, i, v, HELD | 1) === v;
}

/**
 * Async slow path: park on lock word `v` until it changes, the deadline or
 * an abort, counted in ASYNC_LOCKERS until this event loop has seen the
 * wake-up. Meanwhile core's liveness tick asks whether the holder is gone,
 * and if so wakes the waiters (a short waitAsync timeout instead would cost
 * a V8 task per park). Resolves true if the holder was found gone.
 */
async function waitLock(
  w: Int32Array,
  i: number,
  v: number,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  Atomics.add(w, i + ASYNC_LOCKERS, 1);
  let gone = false;
  const stop = onLivenessTick(() => {
    if (!gone && Atomics.load(w, i) === v && isThreadGone(v >>> 1)) {
      gone = true;
      Atomics.notify(w, i);
    }
  });
  try {
    await waitAsync(w, i, v, deadline, signal);
  } finally {
    stop();
    Atomics.sub(w, i + ASYNC_LOCKERS, 1);
  }
  if (signal?.aborted) Atomics.notify(w, i, 1); // leaving: pass on a wake-up it may have taken
  return gone;
}

function unlock(w: Int32Array, i: number): void {
  if (Atomics.exchange(w, i, 0) & 1) {
    // One wake-up, unless an async waiter might take it and sit on it (see top).
    if (Atomics.load(w, i + ASYNC_LOCKERS) === 0) Atomics.notify(w, i, 1);
    else Atomics.notify(w, i);
  }
}

function pastDeadline(deadline: number): boolean {
  return deadline !== Number.POSITIVE_INFINITY && performance.now() >= deadline;
}

/**
 * A first-in first-out queue between threads, as Python's `queue.Queue`:
 * any number of producers and consumers, in any thread of the process.
 * Items are copied (serialized into shared memory), so any structured-clonable
 * value can be put, `null` and `undefined` included. Pass the queue to a
 * `Thread` in `args`; it arrives as a `Queue` over the same memory.
 *
 * @example
 * const q = new Queue<number | null>();
 * const consumer = new Thread({
 *   target: (q: Queue<number | null>) => { let item; while ((item = q.getSync()) !== null) console.log(item); },
 *   args: [q],
 * }).start();
 * for (let i = 0; i < 5; i++) q.putSync(i);
 * q.putSync(null);
 * await consumer.join();
 */
export class Queue<T = unknown> {
  /** @internal header words and ring */
  declare readonly words: Int32Array;
  /** @internal */
  declare readonly ring: Ring;
  /** The item bound (0: none), as given to the constructor. */
  declare readonly maxsize: number;
  /** Bytes of shared memory for items (the `byteCapacity` option, rounded up to a multiple of 4). */
  declare readonly byteCapacity: number;
  /** @internal 2 * byteCapacity: positions run over [0, span) */
  declare readonly span: number;
  /** @internal */
  declare readonly joinable: boolean;
  /** @internal method names for messages */
  declare readonly names: Names;

  /**
   * @param maxsize upper bound on the number of items (0, the default: no bound
   *   but the bytes). A non-negative integer, else RangeError.
   * @param options `byteCapacity`: bytes of shared memory for the items (default 1 MiB).
   */
  constructor(maxsize = 0, options: QueueOptions = {}) {
    const name = this instanceof JoinableQueue ? 'JoinableQueue' : 'Queue';
    if (typeof maxsize !== 'number') throw new TypeError(`${name}: maxsize must be a number, got ${typeof maxsize}`);
    if (!Number.isInteger(maxsize) || maxsize < 0 || maxsize > 0x7fffffff) {
      throw new RangeError(`${name}: maxsize must be an integer >= 0 (0 for no bound), got ${maxsize}`);
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${name}: options must be an object like { byteCapacity }, got ${String(options)}`);
    }
    const requested = options.byteCapacity ?? DEFAULT_CAPACITY;
    if (
      typeof requested !== 'number' ||
      !Number.isInteger(requested) ||
      requested < MIN_CAPACITY ||
      requested > MAX_CAPACITY
    ) {
      throw new RangeError(
        `${name}: byteCapacity must be an integer from ${MIN_CAPACITY} to ${MAX_CAPACITY} (256 MiB), got ${String(requested)}`,
      );
    }
    const cap = (requested + 3) & ~3;
    const words = allocateWords(HEADER_WORDS + (cap + SHAPE_TABLE_BYTES) / 4);
    words[CAPACITY] = cap;
    words[MAXSIZE] = maxsize;
    words[KIND] = name === 'JoinableQueue' ? KIND_JOINABLE : KIND_QUEUE;
    this.init(words);
  }

  /** @internal Rebuild a queue over memory shared from another thread. */
  static revive(data: { words: SharedWords }): Queue {
    const words = wordsView(data.words);
    const q = Object.create(
      Atomics.load(words, KIND) === KIND_JOINABLE ? JoinableQueue.prototype : Queue.prototype,
    ) as Queue;
    q.init(words);
    return q;
  }

  private init(words: Int32Array): void {
    const cap = words[CAPACITY];
    const byteOffset = words.byteOffset + HEADER_WORDS * 4;
    const ring: Ring = {
      i32: new Int32Array(words.buffer, byteOffset, cap / 4),
      u8: new Uint8Array(words.buffer, byteOffset, cap),
      buf: Buffer.from(words.buffer, byteOffset, cap),
      cap,
      shapes: new Shapes(words, SHAPES, new Uint8Array(words.buffer, byteOffset + cap, SHAPE_TABLE_BYTES)),
    };
    const props: PropertyDescriptorMap = {
      words: { value: words },
      ring: { value: ring },
      maxsize: { value: words[MAXSIZE], enumerable: true },
      byteCapacity: { value: cap, enumerable: true },
      span: { value: 2 * cap },
      joinable: { value: words[KIND] === KIND_JOINABLE },
      names: { value: words[KIND] === KIND_JOINABLE ? JOINABLE_NAMES : QUEUE_NAMES },
    };
    Object.defineProperties(this, props);
  }

  private get label(): string {
    return this.names.label;
  }

  // ---- state ----------------------------------------------------------------

  /** Approximate number of items in the queue (exact while nobody puts or gets). */
  qsize(): number {
    const got = Atomics.load(this.words, GET_COUNT);
    return Math.max(0, (Atomics.load(this.words, PUT_COUNT) - got) | 0);
  }

  /** `qsize() === 0`. */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /** True if `maxsize` items are in the queue (the byte capacity is not counted). */
  full(): boolean {
    return this.maxsize > 0 && this.qsize() >= this.maxsize;
  }

  /** True once `shutdown()` was called (in any thread). */
  get isShutDown(): boolean {
    return Atomics.load(this.words, SHUTDOWN) !== 0;
  }

  private available(): boolean {
    const w = this.words;
    return Atomics.load(w, PUT_COUNT) !== Atomics.load(w, GET_COUNT);
  }

  /**
   * Room for `size` bytes, by a waiting putter's re-check. HEAD is read first:
   * its seq-cst store follows the GET_COUNT write, so a HEAD that shows a get
   * comes with that get's count. A stale TAIL (plain-written by producers)
   * is older, which over-estimates room: a spare retry, never a missed wake.
   */
  private hasRoom(size: number): boolean {
    const w = this.words;
    const head = Atomics.load(w, HEAD) & POS;
    const got = Atomics.load(w, GET_COUNT);
    if (this.maxsize > 0 && ((Atomics.load(w, PUT_COUNT) - got) | 0) >= this.maxsize) return false;
    let used = (Atomics.load(w, TAIL) & POS) - head;
    if (used < 0) used += this.span;
    return this.byteCapacity - used >= size;
  }

  private checkSize(rec: Rec, method: string): void {
    if (rec.size > this.byteCapacity) {
      throw new RangeError(
        `${method}: the item takes ${rec.size} bytes serialized, more than the queue's byteCapacity of ${this.byteCapacity} bytes; ` +
          'nothing was enqueued (give the queue a larger { byteCapacity })',
      );
    }
  }

  // ---- the locks ----------------------------------------------------------------

  /** Take lock `i` (PUT_LOCK or GET_LOCK); false if `deadline` passes first. */
  private lock(i: number, deadline = Number.POSITIVE_INFINITY): boolean {
    return Atomics.compareExchange(this.words, i, 0, HELD) === 0 || this.lockSlow(i, deadline);
  }

  /** The blocking slow path of {@link lock}, recovering a lock taken over. */
  private lockSlow(i: number, deadline: number): boolean {
    const r = lockSlowSync(this.words, i, deadline);
    if (r === TAKEN_OVER) this.recover(i);
    return r !== TIMED_OUT;
  }

  /**
   * Holding lock `i`, taken over from a holder that died in its locked
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
  private recover(i: number): void {
    // Atomics throughout: these words were last written by the dead thread,
    // with no unlock to order its writes before our reads.
    const w = this.words;
    if (i === PUT_LOCK) {
      const put = Atomics.load(w, PUT_COUNT);
      if ((Atomics.load(w, TAIL) & TAG) !== (put & TAG)) {
        Atomics.store(w, PUT_COUNT, (put + 1) | 0);
        if (Atomics.load(w, GET_SLEEPY) !== 0) this.wakeGetters();
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

  // ---- locked sections --------------------------------------------------------

  /** Does the shutdown state refuse a put (`restore`: a put-back, refused by an immediate shutdown only)? */
  private refuses(restore: boolean): boolean {
    const shut = Atomics.load(this.words, SHUTDOWN);
    return restore ? shut === 2 : shut !== 0;
  }

  /** Holding PUT_LOCK: enqueue `rec` if there is room (`restore`: see RESTORE). Releases the lock. */
  private lockedPut(rec: Rec, restore = false): number {
    const w = this.words;
    // Plain reads: these words are written only under PUT_LOCK (SHUTDOWN too).
    if (w[SHUTDOWN] !== 0 && !(restore && w[SHUTDOWN] === 1)) {
      unlock(w, PUT_LOCK);
      return SHUT;
    }
    const put = w[PUT_COUNT];
    const tail = w[TAIL] & POS;
    const maxsize = this.maxsize;
    const span = this.span;
    const cap = this.byteCapacity;
    let used = tail - w[HEAD_SEEN];
    if (used < 0) used += span;
    if (cap - used < rec.size || (maxsize > 0 && ((put - w[GOT_SEEN]) | 0) >= maxsize)) {
      // Looks full by what producers saw last: look again (HEAD first, see top).
      const head = Atomics.load(w, HEAD) & POS;
      const got = Atomics.load(w, GET_COUNT);
      w[HEAD_SEEN] = head;
      w[GOT_SEEN] = got;
      used = tail - head;
      if (used < 0) used += span;
      if (cap - used < rec.size || (maxsize > 0 && ((put - got) | 0) >= maxsize)) {
        unlock(w, PUT_LOCK);
        return FULL;
      }
    }
    writeRecord(this.ring, tail < cap ? tail : tail - cap, rec);
    let next = tail + rec.size;
    if (next >= span) next -= span;
    const count = (put + 1) | 0;
    w[TAIL] = next | (count & TAG); // the record is whole: a takeover rolls forward from here
    Atomics.store(w, PUT_COUNT, count); // publishes the record
    unlock(w, PUT_LOCK);
    if (Atomics.load(w, GET_SLEEPY) !== 0) this.wakeGetters();
    return OK;
  }

  /** Holding GET_LOCK: dequeue one item (or V8_PENDING), EMPTY or SHUT_EMPTY. Releases the lock. */
  private lockedGet(): unknown {
    const w = this.words;
    // Plain reads: these words are written only under GET_LOCK.
    const got = w[GET_COUNT];
    if (w[PUT_SEEN] === got) {
      let put = Atomics.load(w, PUT_COUNT);
      if (put === got) {
        // Empty; and SHUTDOWN was clear then if it is clear now.
        if (Atomics.load(w, SHUTDOWN) === 0) {
          unlock(w, GET_LOCK);
          return EMPTY;
        }
        // Shut down: empty for good if still empty now (no put follows the
        // flag); else an item put just before the shutdown is there to take.
        put = Atomics.load(w, PUT_COUNT);
        if (put === got) {
          unlock(w, GET_LOCK);
          return SHUT_EMPTY;
        }
      }
      w[PUT_SEEN] = put;
    }
    const head = w[HEAD] & POS;
    const cap = this.byteCapacity;
    const value = readRecord(this.ring, head < cap ? head : head - cap);
    let next = head + readOut.size;
    if (next >= this.span) next -= this.span;
    const count = (got + 1) | 0;
    w[GET_COUNT] = count; // a takeover before the HEAD store rolls this back
    Atomics.store(w, HEAD, next | (count & TAG)); // frees the record's bytes (and publishes GET_COUNT)
    unlock(w, GET_LOCK);
    if (Atomics.load(w, PUT_SLEEPY) !== 0) this.wakePutters();
    return value;
  }

  /** Wake every sleeping getter, once: the flag is set again by whoever goes back to sleep. */
  private wakeGetters(): void {
    const w = this.words;
    if (Atomics.exchange(w, GET_SLEEPY, 0) !== 0) {
      Atomics.add(w, NOT_EMPTY, 1);
      Atomics.notify(w, NOT_EMPTY);
    }
  }

  /** Wake every sleeping putter, once. */
  private wakePutters(): void {
    const w = this.words;
    if (Atomics.exchange(w, PUT_SLEEPY, 0) !== 0) {
      Atomics.add(w, NOT_FULL, 1);
      Atomics.notify(w, NOT_FULL);
    }
  }

  /**
   * Going to sleep: read the eventcount, then raise the flag, then re-check.
   * In that order: whoever clears the flag bumps the eventcount after, so a
   * sleeper whose flag was taken by a wake-up meant for others still finds
   * the eventcount changed and does not sleep through the next item.
   */
  private sleepyGetter(): number {
    const w = this.words;
    Atomics.add(w, GET_WAITERS, 1);
    const seq = Atomics.load(w, NOT_EMPTY);
    Atomics.store(w, GET_SLEEPY, 1);
    return seq;
  }

  private sleepyPutter(): number {
    const w = this.words;
    Atomics.add(w, PUT_WAITERS, 1);
    const seq = Atomics.load(w, NOT_FULL);
    Atomics.store(w, PUT_SLEEPY, 1);
    return seq;
  }

  /** Poll up to `spins` times for an item or a shutdown. */
  private spinForItem(spins: number): boolean {
    const w = this.words;
    for (let i = 0; i < spins; i++) {
      if (Atomics.load(w, PUT_COUNT) !== Atomics.load(w, GET_COUNT) || Atomics.load(w, SHUTDOWN) !== 0) return true;
    }
    return false;
  }

  /** Poll up to `spins` times for room for `size` bytes or a shutdown (that refuses it). */
  private spinForRoom(size: number, spins: number, restore = false): boolean {
    for (let i = 0; i < spins; i++) {
      if (this.hasRoom(size) || this.refuses(restore)) return true;
    }
    return false;
  }

  private fullError(method: string, rec: Rec, timeout?: number): QueueFull {
    const n = this.qsize();
    const why =
      this.maxsize > 0 && n >= this.maxsize
        ? `it holds ${n} of maxsize ${this.maxsize} items`
        : `the item needs ${rec.size} bytes and the ${n} items queued leave fewer free of ${this.byteCapacity}`;
    return new QueueFull(
      timeout === undefined
        ? `${method}: the queue is full (${why})`
        : `${method}: still full after ${timeout} ms (${why})`,
    );
  }

  /** A put whose timeout passed while another thread held the put lock. */
  private busyError(method: string, timeout: number | undefined): QueueFull {
    return new QueueFull(
      `${method}: could not put within ${timeout} ms: another thread held the queue's lock all along`,
    );
  }

  /** A get whose timeout passed while another thread held the get lock. */
  private busyEmptyError(method: string, timeout: number | undefined): QueueEmpty {
    return new QueueEmpty(`${method}: no item within ${timeout} ms: another thread held the queue's lock all along`);
  }

  private shutError(method: string): QueueShutDown {
    return new QueueShutDown(`${method}: the queue is shut down`);
  }

  private shutEmptyError(method: string): QueueShutDown {
    return new QueueShutDown(`${method}: the queue is shut down and empty`);
  }

  // ---- put ------------------------------------------------------------------

  /**
   * Put an item without waiting. Throws {@link QueueFull} if there is no room
   * (by `maxsize` or by bytes), {@link QueueShutDown} after `shutdown()`,
   * `DataCloneError` for a value that cannot be cloned (a function, a symbol)
   * and RangeError for an item larger than `byteCapacity`; then nothing was enqueued.
   */
  putNowait(item: T): void {
    const method = this.names.putNowait;
    const rec = encodeItem(item, scratchRec, method, this.ring.shapes);
    this.checkSize(rec, method);
    this.lock(PUT_LOCK);
    const r = this.lockedPut(rec);
    if (r === FULL) throw this.fullError(method, rec);
    if (r === SHUT) throw this.shutError(method);
  }

  /**
   * Put an item, blocking the calling thread while the queue is full.
   * Throws {@link QueueFull} if `timeout` ms pass first, {@link QueueShutDown}
   * if the queue is (or gets) shut down; see {@link putNowait} for bad items.
   * On the main thread this blocks the event loop.
   */
  putSync(item: T, options?: SyncWaitOptions): void {
    const method = this.names.putSync;
    if (options !== undefined) checkSyncWaitOptions(options, method);
    const rec = encodeItem(item, scratchRec, method, this.ring.shapes);
    this.checkSize(rec, method);
    const w = this.words;
    let deadline: number | undefined;
    if (Atomics.compareExchange(w, PUT_LOCK, 0, HELD) !== 0) {
      deadline = deadlineOf(options?.timeout);
      if (!this.lockSlow(PUT_LOCK, deadline)) throw this.busyError(method, options?.timeout);
    }
    let r = this.lockedPut(rec);
    if (r === OK) return;
    deadline ??= deadlineOf(options?.timeout);
    for (;;) {
      if (r === SHUT) throw this.shutError(method);
      if (pastDeadline(deadline)) throw this.fullError(method, rec, options?.timeout);
      if (!this.spinForRoom(rec.size, SPIN_SYNC)) {
        const seq = this.sleepyPutter();
        if (!this.hasRoom(rec.size) && Atomics.load(w, SHUTDOWN) === 0) waitSync(w, NOT_FULL, seq, deadline, 0);
        Atomics.sub(w, PUT_WAITERS, 1);
      }
      if (!this.lock(PUT_LOCK, deadline)) throw this.busyError(method, options?.timeout);
      r = this.lockedPut(rec);
      if (r === OK) return;
    }
  }

  /**
   * Put an item, waiting without blocking while the queue is full. Rejects
   * with {@link QueueFull} if `timeout` ms pass first, {@link QueueShutDown} if
   * the queue is (or gets) shut down, `signal.reason` if aborted (nothing
   * enqueued); see {@link putNowait} for bad items.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    const method = this.names.put;
    let rec: Rec;
    try {
      if (options !== undefined) {
        checkWaitOptions(options, method);
        throwIfAborted(options.signal);
      }
      rec = encodeItem(item, scratchRec, method, this.ring.shapes);
      this.checkSize(rec, method);
    } catch (error) {
      return Promise.reject(error);
    }
    const w = this.words;
    if (Atomics.compareExchange(w, PUT_LOCK, 0, HELD) === 0) {
      let r = this.lockedPut(rec);
      // Full: poll briefly before paying for the async slow path.
      if (r === FULL && this.spinForRoom(rec.size, SPIN_ASYNC) && Atomics.compareExchange(w, PUT_LOCK, 0, HELD) === 0)
        r = this.lockedPut(rec);
      if (r === OK) return Promise.resolve();
      if (r === SHUT) return Promise.reject(this.shutError(method));
    }
    return this.putSlow(snapshot(rec), options, method);
  }

  private async putSlow(rec: Rec, options: WaitOptions | undefined, method: string, restore = false): Promise<void> {
    const w = this.words;
    const signal = options?.signal;
    const deadline = deadlineOf(options?.timeout);
    let waited = false;
    for (;;) {
      throwIfAborted(signal);
      const v = lockOrMark(w, PUT_LOCK, waited);
      if (v !== 0) {
        if (pastDeadline(deadline)) throw this.busyError(method, options?.timeout);
        waited = true;
        const gone = await waitLock(w, PUT_LOCK, v, deadline, signal);
        throwIfAborted(signal);
        if (!gone || Atomics.compareExchange(w, PUT_LOCK, v, HELD | 1) !== v) continue;
        this.recover(PUT_LOCK);
      }
      waited = false;
      const r = this.lockedPut(rec, restore);
      if (r === OK) return;
      if (r === SHUT) throw this.shutError(method);
      if (pastDeadline(deadline)) throw this.fullError(method, rec, options?.timeout);
      if (this.spinForRoom(rec.size, SPIN_ASYNC, restore)) continue;
      const seq = this.sleepyPutter();
      try {
        if (this.hasRoom(rec.size) || this.refuses(restore)) continue;
        await waitAsync(w, NOT_FULL, seq, deadline, signal, 0);
      } finally {
        Atomics.sub(w, PUT_WAITERS, 1);
      }
      throwIfAborted(signal);
    }
  }

  /** @internal See RESTORE (at the top). Puts at once when it can, like `put`. */
  [RESTORE](item: T): Promise<boolean> {
    const method = this.names.put;
    let rec: Rec;
    try {
      rec = encodeItem(item, scratchRec, method, this.ring.shapes);
      this.checkSize(rec, method);
    } catch (error) {
      return Promise.reject(error);
    }
    if (Atomics.compareExchange(this.words, PUT_LOCK, 0, HELD) === 0) {
      const r = this.lockedPut(rec, true);
      if (r === OK) return Promise.resolve(true);
      if (r === SHUT) return Promise.resolve(false);
    }
    return this.putSlow(snapshot(rec), undefined, method, true).then(
      () => true,
      (error) => {
        if (error instanceof QueueShutDown) return false;
        throw error;
      },
    );
  }

  // ---- get ------------------------------------------------------------------

  /**
   * Take an item without waiting. Throws {@link QueueEmpty} if there is none,
   * {@link QueueShutDown} if the queue is shut down and empty.
   */
  getNowait(): T {
    this.lock(GET_LOCK);
    const v = this.lockedGet();
    if (v === EMPTY) throw new QueueEmpty(`${this.label}.getNowait: the queue is empty`);
    if (v === SHUT_EMPTY) throw this.shutEmptyError(this.names.getNowait);
    return (v === V8_PENDING ? takeV8() : v) as T;
  }

  /**
   * Take an item, blocking the calling thread while the queue is empty.
   * Throws {@link QueueEmpty} if `timeout` ms pass first (having taken
   * nothing), {@link QueueShutDown} once the queue is shut down and empty.
   * On the main thread this blocks the event loop.
   */
  getSync(options?: SyncWaitOptions): T {
    const w = this.words;
    if (options !== undefined) checkSyncWaitOptions(options, this.names.getSync);
    let deadline: number | undefined;
    if (Atomics.compareExchange(w, GET_LOCK, 0, HELD) !== 0) {
      deadline = deadlineOf(options?.timeout);
      if (!this.lockSlow(GET_LOCK, deadline)) throw this.busyEmptyError(this.names.getSync, options?.timeout);
    }
    const v = this.lockedGet();
    if (v === EMPTY || v === SHUT_EMPTY) return this.getSlowSync(v, options?.timeout, deadline);
    return (v === V8_PENDING ? takeV8() : v) as T;
  }

  private getSlowSync(v: unknown, timeout: number | undefined, known: number | undefined): T {
    const w = this.words;
    const deadline = known ?? deadlineOf(timeout);
    for (;;) {
      if (v === SHUT_EMPTY) throw this.shutEmptyError(this.names.getSync);
      if (pastDeadline(deadline)) throw new QueueEmpty(`${this.label}.getSync: no item within ${timeout} ms`);
      if (!this.spinForItem(SPIN_SYNC)) {
        const seq = this.sleepyGetter();
        if (!this.available() && Atomics.load(w, SHUTDOWN) === 0) waitSync(w, NOT_EMPTY, seq, deadline, 0);
        Atomics.sub(w, GET_WAITERS, 1);
      }
      if (!this.lock(GET_LOCK, deadline)) throw new QueueEmpty(`${this.label}.getSync: no item within ${timeout} ms`);
      v = this.lockedGet();
      if (v !== EMPTY && v !== SHUT_EMPTY) return (v === V8_PENDING ? takeV8() : v) as T;
    }
  }

  /**
   * Take an item, waiting without blocking while the queue is empty. Rejects
   * with {@link QueueEmpty} if `timeout` ms pass first, {@link QueueShutDown}
   * once the queue is shut down and empty, `signal.reason` if aborted; a
   * rejected get has taken nothing.
   */
  get(options?: WaitOptions): Promise<T> {
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      try {
        checkWaitOptions(options, this.names.get);
      } catch (error) {
        return Promise.reject(error);
      }
      signal = options.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    const w = this.words;
    if (Atomics.compareExchange(w, GET_LOCK, 0, HELD) === 0) {
      let v = this.lockedGet();
      // Empty: poll briefly before paying for the async slow path; a producer
      // that is running usually delivers within this.
      if (v === EMPTY && this.spinForItem(SPIN_ASYNC) && Atomics.compareExchange(w, GET_LOCK, 0, HELD) === 0)
        v = this.lockedGet();
      if (v === SHUT_EMPTY) return Promise.reject(this.shutEmptyError(this.names.get));
      if (v !== EMPTY) {
        try {
          return Promise.resolve((v === V8_PENDING ? takeV8() : v) as T);
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    return this.getSlow(options?.timeout, signal);
  }

  private async getSlow(timeout: number | undefined, signal: AbortSignal | undefined): Promise<T> {
    const w = this.words;
    const deadline = deadlineOf(timeout);
    let waited = false;
    for (;;) {
      throwIfAborted(signal);
      const lv = lockOrMark(w, GET_LOCK, waited);
      if (lv !== 0) {
        if (pastDeadline(deadline)) throw this.busyEmptyError(this.names.get, timeout);
        waited = true;
        const gone = await waitLock(w, GET_LOCK, lv, deadline, signal);
        throwIfAborted(signal);
        if (!gone || Atomics.compareExchange(w, GET_LOCK, lv, HELD | 1) !== lv) continue;
        this.recover(GET_LOCK);
      }
      waited = false;
      const v = this.lockedGet();
      if (v === SHUT_EMPTY) throw this.shutEmptyError(this.names.get);
      if (v !== EMPTY) return (v === V8_PENDING ? takeV8() : v) as T;
      if (pastDeadline(deadline)) throw new QueueEmpty(`${this.label}.get: no item within ${timeout} ms`);
      if (this.spinForItem(SPIN_ASYNC)) continue;
      const seq = this.sleepyGetter();
      try {
        if (this.available() || Atomics.load(w, SHUTDOWN) !== 0) continue;
        await waitAsync(w, NOT_EMPTY, seq, deadline, signal, 0);
      } finally {
        Atomics.sub(w, GET_WAITERS, 1);
      }
      throwIfAborted(signal);
    }
  }

  /**
   * `for await (const item of queue)`: get items until the queue is shut
   * down (and, unless immediately, drained). Items taken by a loop that
   * breaks early stay taken; the one in hand is the last.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (error) {
        if (error instanceof QueueShutDown) return;
        throw error;
      }
      yield item;
    }
  }

  // ---- shutdown -------------------------------------------------------------

  /**
   * Shut the queue down, as Python 3.13's `Queue.shutdown`: every later (and
   * every waiting) `put` throws {@link QueueShutDown}; `get` takes what is
   * left, then throws it. With `{ immediate: true }` what is left is dropped
   * (a JoinableQueue counts each dropped item as done) and waiting getters
   * throw at once. Wakes every waiter. Calling it again is allowed.
   */
  shutdown(options: ShutdownOptions = {}): void {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        `${this.label}.shutdown: options must be an object like { immediate }, got ${String(options)}`,
      );
    }
    const immediate = Boolean(options.immediate);
    const w = this.words;
    this.lock(PUT_LOCK);
    if (Atomics.load(w, SHUTDOWN) === 0 || immediate) Atomics.store(w, SHUTDOWN, immediate ? 2 : 1);
    let dropped = 0;
    let put = 0;
    if (immediate) {
      this.lock(GET_LOCK);
      put = w[PUT_COUNT];
      dropped = (put - w[GET_COUNT]) | 0;
      w[GET_COUNT] = put;
      w[PUT_SEEN] = put;
      Atomics.store(w, HEAD, w[TAIL]); // the same tag: GET_COUNT == PUT_COUNT
      unlock(w, GET_LOCK);
    }
    unlock(w, PUT_LOCK);
    if (this.joinable && immediate) {
      // Each dropped item counts as done (PUT_COUNT no longer moves: puts are refused).
      for (;;) {
        const d = Atomics.load(w, DONE);
        const left = Math.max(0, ((put - d) | 0) - dropped);
        if (Atomics.compareExchange(w, DONE, d, (put - left) | 0) === d) break;
      }
      Atomics.notify(w, DONE);
    }
    Atomics.store(w, GET_SLEEPY, 0);
    Atomics.add(w, NOT_EMPTY, 1);
    Atomics.notify(w, NOT_EMPTY);
    Atomics.store(w, PUT_SLEEPY, 0);
    Atomics.add(w, NOT_FULL, 1);
    Atomics.notify(w, NOT_FULL);
  }

  toString(): string {
    const bound = this.maxsize > 0 ? `maxsize=${this.maxsize}, ` : '';
    return `${this.label}(${this.qsize()} items, ${bound}byteCapacity=${this.byteCapacity}${this.isShutDown ? ', shut down' : ''})`;
  }

  /** @internal util.inspect shows the summary, not the views. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * A {@link Queue} that counts unfinished tasks, as Python's `queue.Queue` with
 * `task_done()` / `join()` (multiprocessing's `JoinableQueue`): every put adds
 * one, every `taskDone()` removes one, and `join` waits until none is left.
 *
 * @example
 * const q = new JoinableQueue<string>();
 * // workers: for (;;) { const job = q.getSync(); work(job); q.taskDone(); }
 * for (const job of jobs) q.putSync(job);
 * await q.join(); // every job processed
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** How many items were put and not yet marked done with {@link taskDone}. */
  get unfinishedTasks(): number {
    return Math.max(0, this.unfinished());
  }

  /** PUT_COUNT - DONE: counted from the store that publishes an item (see the top). */
  private unfinished(): number {
    const w = this.words;
    const done = Atomics.load(w, DONE);
    return (Atomics.load(w, PUT_COUNT) - done) | 0;
  }

  /**
   * Mark one item taken with `get` as processed. Throws ConcRuntimeError if
   * called more times than items were put (Python's ValueError).
   */
  taskDone(): void {
    const w = this.words;
    for (;;) {
      const d = Atomics.load(w, DONE);
      const u = (Atomics.load(w, PUT_COUNT) - d) | 0;
      if (u <= 0) {
        throw new ConcRuntimeError(
          'JoinableQueue.taskDone: called more times than items were put (no unfinished task left)',
        );
      }
      if (Atomics.compareExchange(w, DONE, d, (d + 1) | 0) === d) {
        if (u === 1 && Atomics.load(w, JOIN_WAITERS) !== 0) Atomics.notify(w, DONE);
        return;
      }
    }
  }

  /**
   * Block the calling thread until every item put has been marked done.
   * `true`, or `false` if `timeout` ms pass first. On the main thread this blocks the event loop.
   */
  joinSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'JoinableQueue.joinSync');
    const w = this.words;
    if (this.unfinished() <= 0) return true;
    const deadline = deadlineOf(options?.timeout);
    for (;;) {
      Atomics.add(w, JOIN_WAITERS, 1);
      const d = Atomics.load(w, DONE);
      const r = this.unfinished() <= 0 ? 'ok' : waitSync(w, DONE, d, deadline);
      Atomics.sub(w, JOIN_WAITERS, 1);
      if (this.unfinished() <= 0) return true;
      if (r === 'timed-out') return false;
    }
  }

  /**
   * Wait without blocking until every item put has been marked done.
   * Resolves `true`, or `false` if `timeout` ms pass first; rejects with
   * `signal.reason` if aborted.
   */
  async join(options?: WaitOptions): Promise<boolean> {
    if (options !== undefined) checkWaitOptions(options, 'JoinableQueue.join');
    const signal = options?.signal;
    throwIfAborted(signal);
    const w = this.words;
    if (this.unfinished() <= 0) return true;
    const deadline = deadlineOf(options?.timeout);
    for (;;) {
      Atomics.add(w, JOIN_WAITERS, 1);
      let r: WaitResult;
      try {
        const d = Atomics.load(w, DONE);
        r = this.unfinished() <= 0 ? 'ok' : await waitAsync(w, DONE, d, deadline, signal);
      } finally {
        Atomics.sub(w, JOIN_WAITERS, 1);
      }
      throwIfAborted(signal);
      if (this.unfinished() <= 0) return true;
      if (r === 'timed-out') return false;
    }
  }
}

/**
 * Into a child process (@conc/process), Python's feeder thread the model:
 * the owner's queue stays the one place items are. On an unbounded queue a
 * child's puts are sent ahead (`feed`: one frame per put, a refusal reported
 * by a later put; once it is known to be shut down every put throws at
 * once); a bounded queue's are calls (Python's exact QueueFull and timeout).
 * Gets move one item per round trip (`lend`): no item is fetched ahead, the
 * item is lent until the child acknowledges it, and what a dead child (or a
 * get that gave up) had not taken goes back at the tail, which a shutdown
 * without `immediate` does not refuse. A JoinableQueue counted each item
 * when it was first put: put back, it is counted again, so it is marked
 * done once; dropped, nobody else will, so it is marked done too.
 */
function queueProcess(joinable: boolean) {
  const methods = ['put', 'putSync', 'putNowait', 'get', 'getSync', 'getNowait', 'qsize', 'empty', 'full', 'shutdown'];
  return {
    methods: joinable ? [...methods, 'taskDone', 'join', 'joinSync'] : methods,
    getters: joinable ? ['isShutDown', 'unfinishedTasks'] : ['isShutDown'],
    async: joinable ? ['put', 'get', 'join'] : ['put', 'get'],
    local: [Symbol.asyncIterator],
    describe: (q: Queue<unknown>) => ({ maxsize: q.maxsize, byteCapacity: q.byteCapacity }),
    requestBytes: (q: Queue<unknown>) => q.byteCapacity,
    feed: {
      methods: ['put', 'putSync', 'putNowait'],
      applies: (info: Record<string, unknown>) => !((info.maxsize as number) > 0),
      now(q: Queue<unknown>, item: unknown): boolean {
        try {
          q.putNowait(item);
          return true;
        } catch (error) {
          if (error instanceof QueueFull) return false;
          throw error;
        }
      },
      wait: (q: Queue<unknown>, item: unknown) => q.put(item),
      final: (error: unknown) => error instanceof QueueShutDown,
      closed(method: string, n?: number): Error {
        if (n === undefined) return new QueueShutDown(`${method}: the queue is shut down`);
        const items = `${n} item${n === 1 ? '' : 's'} put in this process ${n === 1 ? 'was' : 'were'}`;
        return new QueueShutDown(`${method}: the queue is shut down (${items} not enqueued)`);
      },
    },
    lend: {
      methods: ['get', 'getSync', 'getNowait'],
      now: (q: Queue<unknown>) => q.getNowait(),
      wait: (q: Queue<unknown>, options: WaitOptions) => q.get(options),
      restore(q: Queue<unknown>, item: unknown): void {
        let restoring: Promise<boolean>;
        try {
          restoring = q[RESTORE](item);
        } catch (error) {
          restoring = Promise.reject(error);
        }
        void restoring
          .catch((error) => {
            process.stderr.write(
              `conc: could not put an item back in a ${q.names.label}: ${(error as Error).message}\n`,
            );
          })
          .finally(() => {
            if (!joinable) return;
            try {
              (q as JoinableQueue<unknown>).taskDone(); // its second count (put back), or its only one (dropped)
            } catch {
              // nothing unfinished: a child marked more done than it took
            }
          });
      },
      timedOut: (method: string, ms: number) => new QueueEmpty(`${method}: no item within ${ms} ms`),
    },
  };
}

registerShareable(Queue, {
  tag: 'conc.Queue',
  module: import.meta.url,
  share: (q) => ({ words: describeWords(q.words) }),
  revive: (data) => Queue.revive(data),
  process: queueProcess(false),
});
registerShareable(JoinableQueue, {
  tag: 'conc.JoinableQueue',
  module: import.meta.url,
  share: (q) => ({ words: describeWords(q.words) }),
  revive: (data) => Queue.revive(data) as JoinableQueue,
  process: queueProcess(true),
});
