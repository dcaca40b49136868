/**
 * Queue: Python's `queue.Queue` as a byte ring in shared memory, driven by
 * Atomics. The words are laid out in layout.ts (made in create.ts); an item is
 * one record in the ring (record.ts: a header word, then its bytes; flat.ts,
 * shapes.ts). The mechanics: side.ts (a side's lock and sleepers),
 * sections.ts (the locked sections, and the repair after a holder died),
 * slow.ts (waiting); joinable.ts: JoinableQueue. This file is the algorithm
 * (this comment) and the public API with its documentation, hence its length.
 *
 * Two locks (Michael & Scott's two-lock queue, over a ring): producers
 * serialize on PUT_LOCK, consumers on GET_LOCK, and the two sides meet only
 * through atomic loads of each other's line. One producer and one consumer
 * never contend. A lock is core's named futex (futex.ts; the one-CAS take is tried
 * here): 0 free, else the holder thread's liveness id << 1, bit 0 set while
 * waiters may be parked. A waiter parks on a lock never past its call's
 * deadline: a timeout is always honoured, however long another thread holds
 * the lock; one whose holder died takes it over and repairs (sections.ts).
 *
 * Positions: HEAD and TAIL run over [0, 2*cap) (twice the ring, so that full
 * and empty differ): used = (TAIL - HEAD) mod 2*cap, a record starts at byte
 * (pos mod cap). Positions are multiples of 4; the low two bits of the HEAD
 * and TAIL words (TAG) hold GET_COUNT, resp. PUT_COUNT, mod 4 as of their
 * last store (see Death in sections.ts). PUT_COUNT and GET_COUNT count items
 * put and got, as wrapping Int32s; the queue holds (PUT_COUNT - GET_COUNT)
 * items. Each side caches what it last saw of the other (HEAD_SEEN, GOT_SEEN;
 * PUT_SEEN) and looks at the other side's line only when its cache says full
 * (or empty): a consumer that is behind takes a whole batch for one read of
 * PUT_COUNT.
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
 *   - No lost wake-up (an eventcount and a flag per side, side.ts): a waiter
 *     first polls (SPIN_SYNC / SPIN_ASYNC loads), so a running peer is caught
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
 *     An async waiter counts itself in the word ASYNC_LOCKERS after the lock's
 *     while it waits, and an unlock that finds any wakes every waiter of the
 *     lock, not one: a single wake-up taken by an async waiter whose event
 *     loop is busy (or blocked in a Sync call on this very lock) would leave
 *     a parked blocking waiter asleep on a free lock.
 *   - shutdown(): sets SHUTDOWN under PUT_LOCK, so every put is before it
 *     (and visible) or after it (and refused), but for one: @conc/process's
 *     broker puts back ([RESTORE], process.ts) items it had got for a consumer
 *     process that did not take them (given back, or it died); they were in
 *     the queue before the shutdown, so only an immediate one refuses them
 *     (Python's get drains what is left). Immediate also takes GET_LOCK
 *     and drops what is left (HEAD = TAIL), marking each dropped item done.
 *     Then it bumps both eventcounts and wakes everyone, who re-check.
 */
import {
  SPIN_ASYNC,
  type SharedWords,
  type SyncWaitOptions,
  type WaitOptions,
  checkSyncWaitOptions,
  deadlineOf,
  describeWords,
  namedTryLock,
  refuseWait,
  registerShareable,
  wordsView,
} from '@conc/core';
import {
  QueueEmpty,
  QueueShutDown,
  fullError,
  getBusyError,
  putBusyError,
  shutEmptyError,
  shutError,
} from './errors.js';
import {
  GET_COUNT,
  GET_LOCK,
  HEAD,
  KIND,
  KIND_JOINABLE,
  type Names,
  PUT_COUNT,
  PUT_LOCK,
  PUT_SEEN,
  SHUT,
  SHUTDOWN,
  TAIL,
  WAIT,
  namesFor,
} from './layout.js';
import { type EncodedItem, type Ring, V8_PENDING, encodeItem, scratchItem, snapshot } from './record.js';
import { lockSync, lockSlow, lockedGet, lockedPut, spinUntilReady, takeItem } from './sections.js';
import { HELD, type Side } from './side.js';
import { slowAsync, slowSync } from './slow.js';
import { RESTORE, queueProcess } from './process.js';
import { type QueueOptions, allocateQueue, queueProperties } from './create.js';

export type { SyncWaitOptions };
export type { QueueOptions };

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /** Drop the items left and make `get` throw at once (each dropped item counts as done). */
  immediate?: boolean;
}

const QUEUE_NAMES = namesFor('Queue');
const JOINABLE_NAMES = namesFor('JoinableQueue');

/** The JoinableQueue class (joinable.ts registers it: it extends this file's Queue). */
let joinableClass: QueueClass | undefined;
type QueueClass = new (maxsize?: number, options?: QueueOptions) => Queue;

/** @internal joinable.ts: the class the constructor names JoinableQueue, and `Queue.revive` makes for its memory. */
export function setJoinableClass(c: QueueClass): void {
  joinableClass = c;
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
  /** @internal the producers' side: PUT_LOCK and sleeping putters */
  declare readonly putters: Side;
  /** @internal the consumers' side: GET_LOCK and sleeping getters */
  declare readonly getters: Side;

  /**
   * @param maxsize upper bound on the number of items (0, the default: no bound
   *   but the bytes). A non-negative integer, else RangeError.
   * @param options `byteCapacity`: bytes of shared memory for the items (default 1 MiB).
   */
  constructor(maxsize = 0, options: QueueOptions = {}) {
    const name = joinableClass !== undefined && this instanceof joinableClass ? 'JoinableQueue' : 'Queue';
    this.init(allocateQueue(name, maxsize, options));
  }

  /** @internal Rebuild a queue over memory shared from another thread. */
  static revive(data: { words: SharedWords }): Queue {
    const words = wordsView(data.words);
    const joinable = Atomics.load(words, KIND) === KIND_JOINABLE && joinableClass !== undefined;
    const q = Object.create(joinable ? joinableClass!.prototype : Queue.prototype) as Queue;
    q.init(words);
    return q;
  }

  private init(words: Int32Array): void {
    Object.defineProperties(this, queueProperties(words, words[KIND] === KIND_JOINABLE ? JOINABLE_NAMES : QUEUE_NAMES));
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

  /** Encode `item` for `method` (before any lock is taken); throws for an item that cannot be put. */
  private encode(item: T, method: string): EncodedItem {
    const encoded = encodeItem(item, scratchItem, method, this.ring.shapes);
    if (encoded.size > this.byteCapacity) {
      throw new RangeError(
        `${method}: the item takes ${encoded.size} bytes serialized, more than the queue's byteCapacity of ${this.byteCapacity} bytes; ` +
          'nothing was enqueued (give the queue a larger { byteCapacity })',
      );
    }
    return encoded;
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
    const encoded = this.encode(item, method);
    lockSync(this, this.putters);
    const r = lockedPut(this, encoded);
    if (r === WAIT) throw fullError(this, method, encoded.size);
    if (r === SHUT) throw shutError(method);
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
    const encoded = this.encode(item, method);
    let deadline: number | undefined;
    if (!namedTryLock(this.words, PUT_LOCK, HELD)) {
      deadline = deadlineOf(options?.timeout);
      if (!lockSlow(this, this.putters, deadline)) throw putBusyError(method, options?.timeout);
    }
    const r = lockedPut(this, encoded);
    if (r === undefined) return;
    slowSync(this, this.putters, encoded, r, deadline ?? deadlineOf(options?.timeout), options?.timeout, method);
  }

  /**
   * Put an item, waiting without blocking while the queue is full. Rejects
   * with {@link QueueFull} if `timeout` ms pass first, {@link QueueShutDown} if
   * the queue is (or gets) shut down, `signal.reason` if aborted (nothing
   * enqueued); see {@link putNowait} for bad items.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    const method = this.names.put;
    const refused = refuseWait(options, method);
    if (refused) return refused;
    let encoded: EncodedItem;
    try {
      encoded = this.encode(item, method);
    } catch (error) {
      return Promise.reject(error);
    }
    const w = this.words;
    if (namedTryLock(w, PUT_LOCK, HELD)) {
      let r = lockedPut(this, encoded);
      // Full: poll briefly before paying for the async slow path.
      if (
        r === WAIT &&
        spinUntilReady(this, this.putters, encoded, SPIN_ASYNC, false) &&
        namedTryLock(w, PUT_LOCK, HELD)
      )
        r = lockedPut(this, encoded);
      if (r === undefined) return Promise.resolve();
      if (r === SHUT) return Promise.reject(shutError(method));
    }
    return slowAsync(this, this.putters, snapshot(encoded), options, method) as Promise<void>;
  }

  /** @internal See RESTORE (process.ts). Puts at once when it can, like `put`. */
  [RESTORE](item: T): Promise<boolean> {
    const method = this.names.put;
    let encoded: EncodedItem;
    try {
      encoded = this.encode(item, method);
    } catch (error) {
      return Promise.reject(error);
    }
    if (namedTryLock(this.words, PUT_LOCK, HELD)) {
      const r = lockedPut(this, encoded, true);
      if (r === undefined) return Promise.resolve(true);
      if (r === SHUT) return Promise.resolve(false);
    }
    return slowAsync(this, this.putters, snapshot(encoded), undefined, method, true).then(
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
    lockSync(this, this.getters);
    const v = lockedGet(this);
    if (v === WAIT) throw new QueueEmpty(`${this.label}.getNowait: the queue is empty`);
    if (v === SHUT) throw shutEmptyError(this.names.getNowait);
    return takeItem(v) as T;
  }

  /**
   * Take an item, blocking the calling thread while the queue is empty.
   * Throws {@link QueueEmpty} if `timeout` ms pass first (having taken
   * nothing), {@link QueueShutDown} once the queue is shut down and empty.
   * On the main thread this blocks the event loop.
   */
  getSync(options?: SyncWaitOptions): T {
    // The method's name is looked up only where a message may need it: not on the fast path.
    if (options !== undefined) checkSyncWaitOptions(options, this.names.getSync);
    let deadline: number | undefined;
    if (!namedTryLock(this.words, GET_LOCK, HELD)) {
      deadline = deadlineOf(options?.timeout);
      if (!lockSlow(this, this.getters, deadline)) throw getBusyError(this.names.getSync, options?.timeout);
    }
    const v = lockedGet(this);
    if (v !== WAIT && v !== SHUT) return (v === V8_PENDING ? takeItem(v) : v) as T;
    return slowSync(
      this,
      this.getters,
      null,
      v,
      deadline ?? deadlineOf(options?.timeout),
      options?.timeout,
      this.names.getSync,
    ) as T;
  }

  /**
   * Take an item, waiting without blocking while the queue is empty. Rejects
   * with {@link QueueEmpty} if `timeout` ms pass first, {@link QueueShutDown}
   * once the queue is shut down and empty, `signal.reason` if aborted; a
   * rejected get has taken nothing.
   */
  get(options?: WaitOptions): Promise<T> {
    if (options !== undefined) {
      const refused = refuseWait(options, this.names.get);
      if (refused) return refused;
    }
    const w = this.words;
    if (namedTryLock(w, GET_LOCK, HELD)) {
      let v = lockedGet(this);
      // Empty: poll briefly before paying for the async slow path; a producer
      // that is running usually delivers within this.
      if (v === WAIT && spinUntilReady(this, this.getters, null, SPIN_ASYNC, false) && namedTryLock(w, GET_LOCK, HELD))
        v = lockedGet(this);
      if (v === SHUT) return Promise.reject(shutEmptyError(this.names.get));
      if (v !== WAIT) {
        if (v !== V8_PENDING) return Promise.resolve(v as T);
        try {
          return Promise.resolve(takeItem(v) as T);
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    return slowAsync(this, this.getters, null, options, this.names.get) as Promise<T>;
  }

  /** @internal for tests: the get section, run by a caller that holds GET_LOCK (released here). */
  lockedGet(): unknown {
    return takeItem(lockedGet(this));
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
    lockSync(this, this.putters);
    if (Atomics.load(w, SHUTDOWN) === 0 || immediate) Atomics.store(w, SHUTDOWN, immediate ? 2 : 1);
    let dropped = 0;
    let put = 0;
    if (immediate) {
      lockSync(this, this.getters);
      put = w[PUT_COUNT];
      dropped = (put - w[GET_COUNT]) | 0;
      w[GET_COUNT] = put;
      w[PUT_SEEN] = put;
      Atomics.store(w, HEAD, w[TAIL]); // the same tag: GET_COUNT == PUT_COUNT
      this.getters.unlock();
    }
    this.putters.unlock();
    if (immediate) this.dropped(put, dropped);
    this.getters.wakeAll();
    this.putters.wakeAll();
  }

  /** @internal JoinableQueue: an immediate shutdown dropped `dropped` items, PUT_COUNT being `put`. */
  protected dropped(_put: number, _dropped: number): void {}

  toString(): string {
    const bound = this.maxsize > 0 ? `maxsize=${this.maxsize}, ` : '';
    return `${this.label}(${this.qsize()} items, ${bound}byteCapacity=${this.byteCapacity}${this.isShutDown ? ', shut down' : ''})`;
  }

  /** @internal util.inspect shows the summary, not the views. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

registerShareable(Queue, {
  tag: 'conc.Queue',
  module: import.meta.url,
  share: (q) => ({ words: describeWords(q.words) }),
  revive: (data) => Queue.revive(data),
  process: queueProcess(false),
});
