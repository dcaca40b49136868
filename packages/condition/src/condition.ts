/**
 * Condition: Python's `threading.Condition`, a condition variable bound to a
 * Lock or RLock from @conc/lock, for threads that share memory.
 *
 * This file is the class: it checks its callers and drives the pieces, each
 * in a file of its own:
 *   - queue.ts   the algorithm: a FIFO ticket queue in 64 shared words (the
 *                layout, wait and notify step by step, the invariants);
 *   - waiter.ts  a waiter's side of it: take a ticket, park, settle;
 *   - death.ts   waiters that die absorb no notify (DESIGN.md, "Death");
 *   - handoff.ts the spinning policy (how long to poll before parking, who
 *                takes the lock first after a notify).
 *
 *   wait:    (holding the lock) take a ticket; release the lock fully (an
 *            RLock's recursion level is saved, Python's _release_save); spin,
 *            then park until served, the deadline, or an abort; take the
 *            lock back (always, even on timeout or abort; the level is
 *            restored); settle: served -> true, else the ticket is cancelled
 *            and the wait returns false (or rejects with the abort reason).
 *   notify(n): (holding the lock) serve up to n waiting tickets, oldest
 *            first; `notifyAll()` is `notify(Infinity)`.
 *   the lock's methods act on the lock, with handoff.ts's polite spin.
 */
import {
  Acquirable,
  ConcRuntimeError,
  SPIN_ASYNC,
  type Encoded,
  type SharedWords,
  type SyncWaitOptions,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  decodeSync,
  describeWords,
  encode,
  onLivenessTick,
  refuseWait,
  registerShareable,
  remaining,
  wordsView,
} from '@conc/core';
import { Lock, RLock } from '@conc/lock';
import { audit } from './death.js';
import { type ConditionLock, Handoff, reacquireAsync, servedSoon } from './handoff.js';
import { lockInner, NGHOSTS, PENDING, SERVED, serve, TICKETS, unlockInner, WORDS } from './queue.js';
import { enqueue, parkAsync, parkSync, settle } from './waiter.js';

export type { ConditionLock, SyncWaitOptions };

function checkCount(n: unknown): number {
  if (typeof n !== 'number') throw new TypeError(`Condition.notify: n must be a number, got ${typeof n}`);
  if (Number.isNaN(n) || n < 0 || (!Number.isInteger(n) && n !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(`Condition.notify: n must be a non-negative integer or Infinity, got ${n}`);
  }
  return n;
}

/**
 * A condition variable, as Python's `threading.Condition`: threads wait on it
 * (releasing its lock while they wait) until another thread, holding the
 * lock, notifies them. Pass it to a `Thread` in `args`: it arrives as a
 * Condition over the same memory, bound to the same lock.
 *
 * It is also its lock: `acquire`, `acquireSync`, `tryAcquire`, `release`,
 * `guard`, `guardSync`, `withLock` and `withLockSync` act on the lock.
 *
 * @example
 * const cond = new Condition();
 * // consumer
 * cond.acquireSync();
 * try {
 *   cond.waitForSync(() => items[0] > 0);
 *   items[0]--;
 * } finally { cond.release(); }
 * // producer
 * cond.withLockSync(() => { items[0]++; cond.notify(); });
 */
export class Condition extends Acquirable {
  /** @internal the queue words (layout in queue.ts). */
  declare readonly words: Int32Array;
  /** The lock this condition releases while waiting (a new RLock by default, as Python). */
  declare readonly lock: ConditionLock;
  /** This thread's spinning (handoff.ts); made on first use. */
  private spin: Handoff | undefined;
  /** This thread's async waits parked on this condition now. */
  private parkedAsync = 0;
  /** Unregisters auditTick from core's liveness tick; undefined while not registered. */
  private stopAudits: (() => void) | undefined;

  /**
   * @param lock a `Lock` or `RLock` from @conc/lock; default a new `RLock`.
   * @throws TypeError if `lock` is something else.
   */
  constructor(lock?: ConditionLock) {
    super();
    if (lock === undefined) lock = new RLock();
    else if (!(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(
        `Condition: lock must be a Lock or RLock from @conc/lock, got ${lock === null ? 'null' : typeof lock === 'object' ? ((lock as object).constructor?.name ?? 'an object') : typeof lock}`,
      );
    }
    Object.defineProperty(this, 'words', { value: allocateWords(WORDS) });
    Object.defineProperty(this, 'lock', { value: lock, enumerable: true });
  }

  /** @internal Rebuild a Condition over memory shared from another thread. */
  static revive(data: { words: SharedWords; lock: unknown }): Condition {
    const cond = Object.create(Condition.prototype) as Condition;
    Object.defineProperty(cond, 'words', { value: wordsView(data.words) });
    Object.defineProperty(cond, 'lock', { value: decodeSync(data.lock as Encoded), enumerable: true });
    // the constructor's field initializers do not run for Object.create
    cond.parkedAsync = 0;
    return cond;
  }

  /** This thread's spinning policy for this condition. */
  private handoff(): Handoff {
    return (this.spin ??= new Handoff());
  }

  // ---- the lock's methods -------------------------------------------------

  /**
   * Wait without blocking until the lock is taken; `false` on timeout, rejects
   * with `signal.reason` if aborted (holding nothing).
   */
  acquire(options?: WaitOptions): Promise<boolean> {
    if (options !== undefined) {
      const refused = refuseWait(options, 'Condition.acquire');
      if (refused) return refused;
      if (options.signal !== undefined || options.timeout === 0) return this.lock.acquire(options);
    }
    return this.quickAcquire(SPIN_ASYNC) ? Promise.resolve(true) : this.lock.acquire(options);
  }

  /**
   * Block until the lock is taken; `false` if `timeout` (ms) passes first.
   * On the main thread this blocks the event loop.
   *
   * Unlike the lock's own `acquireSync`, it polls briefly before parking, and
   * lets threads that `notify` just woke take the lock back first: a
   * condition's lock is handed back and forth, and is usually free again
   * within microseconds.
   */
  acquireSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) {
      checkSyncWaitOptions(options, 'Condition.acquireSync');
      if (options.timeout === 0) return this.lock.acquireSync(options);
    }
    return this.quickAcquire(this.handoff().budget) || this.lock.acquireSync(options);
  }

  /** The lock now, or after a polite spin (handoff.ts); false: go and park. */
  private quickAcquire(spins: number): boolean {
    const lock = this.lock;
    if (lock instanceof RLock && lock.isOwned()) return lock.tryAcquire(); // re-entry
    return this.handoff().acquire(lock, this.words, spins);
  }

  /** Take the lock if it is free (or, for an RLock, already ours), without waiting. */
  tryAcquire(): boolean {
    return this.lock.tryAcquire();
  }

  /** Release the lock (one level of an RLock); throws as the lock's own `release`. */
  release(): void {
    this.lock.release();
  }

  // ---- waiting ------------------------------------------------------------

  /**
   * Block the calling thread until notified or until `timeout` ms pass.
   * Releases the lock (all levels of an RLock) while waiting and takes it
   * back before returning, even on timeout. On the main thread this blocks
   * the event loop.
   *
   * The timeout counts from the park: a wait served while spinning never
   * reads the clock, and the spin (handoff.ts) adds at most some tens of
   * microseconds, or about a millisecond right after a notify that woke a
   * parked thread, and then only with timeouts of 50 ms or more.
   *
   * @returns `true` if notified, `false` on timeout.
   * @throws ConcRuntimeError if the calling thread does not hold the lock.
   * @throws RangeError on a negative or NaN timeout (before anything changes).
   */
  waitSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'Condition.waitSync');
    const timeout = options?.timeout ?? Number.POSITIVE_INFINITY;
    this.checkOwned('waitSync');
    const w = this.words;
    const spin = this.handoff();
    const ticket = enqueue(w);
    const level = this.releaseSave();
    try {
      if (!spin.untilServed(w, ticket.t, spin.forWait(timeout))) parkSync(w, ticket.t, timeout);
    } finally {
      const lock = this.lock;
      if (!spin.reacquire(lock)) lock.acquireSync();
      for (let i = 1; i < level; i++) lock.tryAcquire();
    }
    return settle(w, ticket, false);
  }

  /**
   * Wait without blocking until notified, `timeout` ms pass, or `signal`
   * aborts. Releases the lock while waiting and takes it back before
   * settling, whatever the outcome (even on abort: re-taking the lock is not
   * abortable).
   *
   * @returns a Promise of `true` if notified, `false` on timeout.
   * Rejects with `signal.reason` if aborted (an already-aborted signal
   * changes nothing), ConcRuntimeError without the lock, RangeError on a
   * negative or NaN timeout.
   */
  wait(options?: WaitOptions): Promise<boolean> {
    const refused = refuseWait(options, 'Condition.wait');
    if (refused) return refused;
    try {
      this.checkOwned('wait');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.waitAsync(deadlineOf(options?.timeout), options?.signal);
  }

  private async waitAsync(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const w = this.words;
    const ticket = enqueue(w);
    const level = this.releaseSave();
    try {
      if (!servedSoon(w, ticket.t)) {
        // While parked, look for waiters that died now and then, on core's tick.
        this.parkedAsync++;
        if (this.stopAudits === undefined) this.stopAudits = onLivenessTick(() => this.auditTick());
        try {
          await parkAsync(w, ticket.t, deadline, signal);
        } finally {
          this.parkedAsync--;
        }
      }
    } finally {
      const lock = this.lock;
      if (!reacquireAsync(lock)) await lock.acquire();
      for (let i = 1; i < level; i++) lock.tryAcquire();
    }
    const aborted = signal?.aborted === true;
    const served = settle(w, ticket, aborted);
    if (aborted) throw signal!.reason;
    return served;
  }

  /**
   * Block until `predicate()` returns a truthy value, waiting between checks
   * (Python's `wait_for`). The predicate runs with the lock held.
   *
   * @returns the predicate's last value: truthy, or falsy if `timeout` passed.
   * @throws ConcRuntimeError without the lock; TypeError if `predicate` is not
   *   a function; RangeError on a negative or NaN timeout.
   */
  waitForSync<T>(predicate: () => T, options?: SyncWaitOptions): T {
    if (options !== undefined) checkSyncWaitOptions(options, 'Condition.waitForSync');
    if (typeof predicate !== 'function') throw new TypeError('Condition.waitForSync: predicate must be a function');
    const deadline = deadlineOf(options?.timeout);
    this.checkOwned('waitForSync');
    let result = predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      this.waitSync({ timeout: left });
      result = predicate();
    }
    return result;
  }

  /**
   * Wait without blocking until `predicate()` returns a truthy value (a
   * promise it returns is awaited). The predicate runs with the lock held.
   *
   * @returns a Promise of the predicate's last value (falsy on timeout).
   * Rejects as {@link Condition.wait} does, and with TypeError if
   * `predicate` is not a function.
   */
  async waitFor<T>(predicate: () => T | Promise<T>, options?: WaitOptions): Promise<Awaited<T>> {
    if (options !== undefined) checkWaitOptions(options, 'Condition.waitFor');
    if (typeof predicate !== 'function') throw new TypeError('Condition.waitFor: predicate must be a function');
    const deadline = deadlineOf(options?.timeout);
    this.checkOwned('waitFor');
    const signal = options?.signal;
    if (signal?.aborted) throw signal.reason;
    let result = await predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      await this.wait({ timeout: left, signal });
      result = await predicate();
    }
    return result;
  }

  // ---- notifying ----------------------------------------------------------

  /**
   * Wake at most `n` threads (or async waits) waiting on this condition, the
   * longest-waiting first (Infinity: all). They return from `wait` once they
   * get the lock back, so after the caller releases it.
   *
   * @returns nothing (Python's returns None); waking nobody is not an error.
   * @throws ConcRuntimeError if the calling thread does not hold the lock;
   *   RangeError if `n` is negative, NaN or not an integer (Infinity is all).
   */
  notify(n = 1): void {
    checkCount(n);
    this.wake(n, 'notify');
  }

  /** Wake every waiter (Python's `notify_all`): `notify(Infinity)`. Throws ConcRuntimeError without the lock. */
  notifyAll(): void {
    this.wake(Number.POSITIVE_INFINITY, 'notifyAll');
  }

  /** notify(n), named `method` in its errors. */
  private wake(n: number, method: string): void {
    this.checkOwned(method);
    const w = this.words;
    // Nobody waiting: nothing to take INNER for. Holding the lock, no wait can
    // be joining the queue now (a wait takes its ticket under the lock).
    if (n === 0 || Atomics.load(w, TICKETS) === Atomics.load(w, SERVED)) return;
    lockInner(w);
    try {
      if (serve(w, n) > 0) this.handoff().wokeParked = true;
    } finally {
      unlockInner(w);
    }
  }

  /**
   * @internal The queue's counters, read by tests (no word offsets outside
   * queue.ts): `pending()` woken waiters not yet holding the lock again (0
   * once all are back), `tickets()` the ticket counter (unchanged: nothing
   * was enqueued).
   */
  get counters(): { pending(): number; tickets(): number } {
    const w = this.words;
    return { pending: () => Atomics.load(w, PENDING), tickets: () => Atomics.load(w, TICKETS) };
  }

  override toString(): string {
    const w = this.words;
    const waiting = ((Atomics.load(w, TICKETS) - Atomics.load(w, SERVED)) | 0) - Atomics.load(w, NGHOSTS);
    return `Condition(${this.lock}, waiting=${waiting})`;
  }

  // ---- internals ----------------------------------------------------------

  /** Python's `_is_owned`: an RLock must be ours; a Lock must be held (by anyone, as Python checks). */
  private checkOwned(method: string): void {
    const lock = this.lock;
    const owned = lock instanceof RLock ? lock.isOwned() : lock.locked;
    if (!owned) {
      throw new ConcRuntimeError(
        `Condition.${method}: cannot ${method.startsWith('notify') ? 'notify' : 'wait'} on an un-acquired lock (acquire the condition or its lock first)`,
      );
    }
  }

  /** Release the lock fully; returns what taking it back needs (the RLock level). */
  private releaseSave(): number {
    const lock = this.lock;
    const level = lock instanceof RLock ? lock.recursionLevel : 1;
    for (let i = 0; i < level; i++) lock.release();
    return level;
  }

  /**
   * On core's liveness tick while this thread has async waits parked here:
   * audit. The registration outlives them by a tick (waits that come and
   * go quickly do not register and unregister each time).
   */
  private auditTick(): void {
    if (this.parkedAsync > 0) {
      audit(this.words);
    } else {
      this.stopAudits?.();
      this.stopAudits = undefined;
    }
  }
}

registerShareable(Condition, {
  tag: 'conc.Condition',
  module: import.meta.url,
  share: (cond) => ({ words: describeWords(cond.words), lock: encode(cond.lock, 'thread', 'Condition.lock') }),
  revive: (data) => Condition.revive(data),
  // Into a child process (@conc/process): the lock is shared alongside (the
  // child's `cond.lock` is a proxy of the same Lock or RLock), and what a
  // dead child holds is the lock's business (its own hooks). A wait lets go
  // of the lock and takes it back before it settles (notified, timed out or
  // aborted): while it waits, the waiter is not a holder. A wait that
  // settles after its child died lets go of the lock again, unflagged.
  process: {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release', 'wait', 'waitSync', 'notify', 'notifyAll'],
    async: ['acquire', 'wait'],
    local: ['waitFor', 'waitForSync'],
    describe: (cond) => ({ lock: encode(cond.lock, 'process', 'Condition.lock') }),
    onCall(cond, call, held) {
      const lock = cond.lock;
      if (call.name !== 'wait') return held.forward(lock, call);
      const plain = !(lock instanceof RLock);
      if (call.phase === 'waiting') call.note = plain && held.letGo(lock);
      else if (call.phase === 'done' || call.aborted) {
        if (!held.gone) {
          if (plain) held.hold(lock);
        } else if (plain) lock.release();
        else
          held.as(held.token, () => {
            do lock.release();
            while (lock.isOwned());
          });
      } else if (plain && call.note === true && !held.held(lock) && lock.locked) held.hold(lock); // refused: never let go
    },
    onDeath: (cond, held) => held.forwardDeath(cond.lock),
  },
});
