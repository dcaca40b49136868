/**
 * Condition: Python's `threading.Condition`, a condition variable bound to a
 * Lock or RLock from @conc/lock, for threads that share memory.
 *
 * Layout: 64 shared Int32 words (256 bytes, four cache lines), beside the
 * lock's own words.
 *   [0]  INNER    a small futex mutex guarding the queue words below; it
 *                 names its holder (0 free, else the holder's liveness id
 *                 << 1, bit 0 while waiters may be parked)
 *   [1]  TICKETS  the next ticket to hand out
 *   [3]  PARKED   waiters parked in Atomics.wait / waitAsync right now
 *   [4]  NGHOSTS  how many entries of GHOST are in use
 *   [8..15]  PARK   eight park words; ticket t parks on PARK + (t & 7)
 *   [16] SERVED   every ticket before it is resolved (woken, or cancelled);
 *                 on a cache line of its own with PENDING: spinning waiters
 *                 poll only this line, which a notify writes once
 *   [17] PENDING  woken waiters that have not yet taken the lock back
 *   [18..31] SLOT seven (ticket, waiter) pairs: which thread (its liveness
 *                 id, @conc/core's threadLivenessId) waits on which ticket,
 *                 or was served on it and has not come back; the ticket word
 *                 of a served slot holds its horizon instead (the TICKETS of
 *                 the notify: the tickets that were waiting then)
 *   [32..63] GHOST  tickets of waiters that gave up (timeout, abort) while
 *                   older and newer waiters still wait: "ghosts"
 *
 * Waiting is a FIFO ticket queue: the waiting tickets are those in
 * [SERVED, TICKETS) that are not ghosts. All of TICKETS, SERVED, NGHOSTS,
 * GHOST and the slots change only under INNER (but for a woken waiter
 * freeing its own slot), and (with correct use) under the user's lock.
 *
 *   wait:    (holding the lock) take a free slot, if any, for ticket
 *            TICKETS, then t = TICKETS++; release the lock fully (an
 *            RLock's recursion level is saved, Python's _release_save); spin
 *            while SERVED <= t, then loop { v = PARK[t&7]; PARKED++; if
 *            SERVED > t stop; park while PARK[t&7] == v; PARKED-- } until
 *            served, the deadline, or an abort; a blocking park lasts a SLICE
 *            at most, and one that lasted it audits the slots (see Death);
 *            an async one audits on core's liveness tick. Re-acquire
 *            the lock (always, even on timeout or abort; the level is
 *            restored). Then, holding the lock: served -> free the slot,
 *            true. Not served -> cancel the ticket: newest ticket: TICKETS--;
 *            oldest: SERVED++; in between: record it in GHOST; then free the
 *            slot. Return false (or reject with the abort reason; an aborted
 *            waiter that was served passes its wake-up on: notify(1)).
 *   notify(n): (holding the lock) nobody waiting (TICKETS == SERVED): done.
 *            Else walk tickets from SERVED: a ghost is skipped, a waiting
 *            ticket counts, until n counted or TICKETS reached. PENDING +=
 *            counted; store the new SERVED; mark the slots of the served
 *            tickets (the horizon, SERVED_MARK); drop the ghosts walked past;
 *            then bump the PARK word of each woken ticket and, if PARKED >
 *            0, Atomics.notify it.
 *   acquireSync / acquire (the lock's, through the Condition): take the lock
 *            at once only if PENDING == 0; else poll, leaving it to the woken
 *            waiters for a while, then take it like anyone. (A thread that
 *            barges in right after its own notify usually finds nothing to
 *            do and waits, while the woken one waits for the lock.)
 *   Spinning (the wait for SERVED; taking the lock) uses a budget of polls
 *            each thread adapts: see SPIN_MAX; the first wait after a notify
 *            that woke a parked thread spins longer: see SPIN_WAKE. Polls
 *            for the lock test it before the compare-and-swap.
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
 *
 * Invariants:
 *   - notify(n) wakes at most n live waiters, each one that was waiting when
 *     notify was called: only tickets taken before it (under the lock) and
 *     not cancelled are counted, and "served" is a pure function of SERVED
 *     and the ticket; a wake-up passed on from a dead waiter goes to one
 *     ticket from before the same notify's horizon, and only once the slot
 *     that carried it is freed in the same INNER section (cut short in
 *     between, a repair may pass it on a second time: a spurious wake-up,
 *     never a lost one); spurious wake-ups of a park word (another ticket on
 *     the same word, an abort, a repair) only make a waiter re-check and
 *     park again.
 *   - No lost wake-up: a waiter reads its park word, then increments PARKED,
 *     then checks SERVED, then parks only if the park word is unchanged.
 *     notify stores SERVED, then bumps the park word, then reads PARKED (all
 *     Atomics are sequentially consistent). So either the waiter sees
 *     SERVED > t, or notify sees PARKED > 0 and the changed park word makes
 *     the park return at once or be woken by notify's Atomics.notify.
 *   - A waiter that gave up is never counted by a later notify: it removes
 *     its ticket from either end of the queue, or records it as a ghost that
 *     notify skips. If more than 32 ghosts pile up in the middle of the queue
 *     (timeouts in many threads while older waiters keep waiting), every
 *     waiter is served at once (a spurious wake-up, as condition variables
 *     allow) rather than risk a lost one.
 *   - A waiter that times out but was served in the meantime returns true:
 *     the notify that counted it is not lost.
 *   - Tickets wrap around 2^32; comparisons are on (SERVED - t) | 0, exact
 *     while fewer than 2^31 tickets wait.
 *   - Only Atomics touch the words; the spinning phase reads SERVED only, so
 *     a waiter served while spinning costs the notifier no Atomics.notify.
 *   - PENDING is a hint, never needed for correctness: each woken ticket adds
 *     one, and its waiter takes one off once it holds the lock again (in
 *     settle, whatever the outcome; a reclaim takes a dead one's off); at
 *     worst a wrong value costs a newcomer a bounded spin.
 *   - A slot is free (0), or names the thread of exactly one ticket: waiting
 *     (the ticket), or served and not back yet (SERVED_MARK, the horizon).
 *     The waiter frees it once settled; markServed changes it by CAS, so a
 *     waiter freeing it at the same moment (without INNER) wins.
 */
import {
  Acquirable,
  ConcRuntimeError,
  SPIN_ASYNC,
  SPIN_SYNC,
  type SharedWords,
  type WaitOptions,
  allocateWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  type Encoded,
  decodeSync,
  describeWords,
  encode,
  LIVENESS_TICK,
  isThreadGone,
  onLivenessTick,
  registerShareable,
  remaining,
  threadLivenessId,
  waitAsync,
  waitSync,
  wordsView,
} from '@conc/core';
import { Lock, RLock } from '@conc/lock';

const INNER = 0;
const TICKETS = 1;
const PARKED = 3;
const NGHOSTS = 4;
const PARK = 8;
const PARK_MASK = 7;
/** On a cache line of its own: spinning waiters read only this line, so they do not slow the notifier down. */
const SERVED = 16;
/** Woken waiters that have not yet taken the lock back (same line as SERVED: written with it). */
const PENDING = 17;
/**
 * Slots [18..31], seven pairs (ticket, waiter): who waits on which ticket,
 * so that the tickets of threads that died can be found (see audit). The
 * waiter word is the thread's liveness id (@conc/core's threadLivenessId),
 * or'ed with SERVED_MARK once the ticket is served (the ticket word then
 * holds the horizon, see markServed), 0 for a free slot. On SERVED's line: a
 * woken waiter frees its slot where it takes itself off PENDING, and notify
 * marks it where it stores SERVED.
 */
const SLOT = 18;
const SLOT_END = 32;
const GHOST = 32;
const MAX_GHOSTS = 32;
const WORDS = GHOST + MAX_GHOSTS;
/**
 * The longest park (ms) of a blocking wait before it looks for waiters that
 * died (and of a waiter for INNER before it asks whether its holder did);
 * the park is then resumed. Async waits look as often, on core's liveness
 * tick (LIVENESS_TICK).
 */
const SLICE = LIVENESS_TICK;
/** Polls for INNER before parking (its sections are a few loads and stores long). */
const SPIN_INNER = 100;

/**
 * Adaptive spinning of the blocking paths (the wait for SERVED, and taking
 * the lock in acquireSync and on the way back from a wait). Each Condition
 * object (one per thread) keeps a budget of polls: a spin that ends in
 * success grows it (up to SPIN_MAX, about 40 us), one that ends in a park
 * halves it (down to SPIN_MIN). With a core each, two threads handing off
 * find each other while spinning and keep a budget long enough to ride out
 * a peer's park and wake (~30 us); when threads outnumber cores, spinning
 * only keeps the peer off the core, and the budget shrinks until a wait
 * parks at once, as Python's does.
 */
const SPIN_MAX = 2 * SPIN_SYNC;
const SPIN_MIN = 256;
/**
 * The spin of the first wait after a notify that woke a parked thread (about
 * 1 ms): that thread is usually the one that will notify back, and coming
 * back from a park can take 100-300 us here (a vCPU left idle). A shorter
 * spin parks too, and then every hand-off pays a park and a wake: a chain
 * that ran the ping-pong at a fiftieth of its speed. Only while the thread's
 * budget is at least SPIN_SYNC (its spins succeed: it has a core); a long
 * spin that ends in a park halves the budget like any other, which stops
 * long spins until spins succeed again (on a loaded machine they hurt).
 */
const SPIN_WAKE = 64 * SPIN_SYNC;

/** Options of a blocking wait: a timeout only (nothing can abort a blocked thread). */
export type SyncWaitOptions = Omit<WaitOptions, 'signal'>;

/** The lock a Condition is bound to. */
export type ConditionLock = Lock | RLock;

function isServed(w: Int32Array, t: number): boolean {
  return ((Atomics.load(w, SERVED) - t) | 0) > 0;
}

// ---- INNER: a mutex that records its holder -------------------------------

/** INNER's word while this thread holds it: its liveness id << 1 (bit 0: waiters may be parked). */
const ME = threadLivenessId();
const HELD_BY_ME = ME << 1;

function lockInner(w: Int32Array): void {
  if (Atomics.compareExchange(w, INNER, 0, HELD_BY_ME) !== 0) lockInnerSlow(w);
}

/**
 * INNER's slow path: spin a little, then park, marking the word contended
 * (bit 0), as core's futex does with its state 2. A park lasts at most
 * SLICE; one that ends with the same holder still in the word asks whether
 * that holder's thread is gone, and if so takes the word over (one CAS: a
 * single taker) and repairs what a section cut short may have left.
 */
function lockInnerSlow(w: Int32Array): void {
  for (let n = 0; n < SPIN_INNER; n++) {
    const v = Atomics.load(w, INNER);
    if (v === 0 && Atomics.compareExchange(w, INNER, 0, HELD_BY_ME) === 0) return;
    if (v & 1) break;
  }
  for (;;) {
    let v = Atomics.load(w, INNER);
    if (v === 0) {
      if (Atomics.compareExchange(w, INNER, 0, HELD_BY_ME | 1) === 0) return;
      continue;
    }
    if ((v & 1) === 0) {
      if (Atomics.compareExchange(w, INNER, v, v | 1) !== v) continue;
      v |= 1;
    }
    if (
      Atomics.wait(w, INNER, v, SLICE) === 'timed-out' &&
      isThreadGone(v >>> 1) &&
      Atomics.compareExchange(w, INNER, v, HELD_BY_ME | 1) === v
    ) {
      repairInner(w, v >>> 1);
      return;
    }
  }
}

function unlockInner(w: Int32Array): void {
  if (Atomics.exchange(w, INNER, 0) & 1) Atomics.notify(w, INNER, 1);
}

/**
 * Taken over from `dead`, a holder that died in a section: make the queue
 * words consistent again. Every section writes in an order such that
 * whatever prefix of it ran leaves at worst ghosts outside [SERVED, TICKETS)
 * (dropped here), slots of the dead thread (reclaimed here, as an audit
 * would), a PENDING off by one (a hint), or parked waiters that were served
 * and not woken (woken here: they re-check).
 */
function repairInner(w: Int32Array, dead: number): void {
  purgeGhosts(w);
  reclaimAll(w, [dead]);
  if (Atomics.load(w, PENDING) < 0) Atomics.store(w, PENDING, 0);
  for (let i = PARK; i <= PARK + PARK_MASK; i++) {
    Atomics.add(w, i, 1);
    Atomics.notify(w, i);
  }
}

// ---- the ticket queue (all under INNER) -----------------------------------

function isGhost(w: Int32Array, t: number): boolean {
  const n = Atomics.load(w, NGHOSTS);
  for (let i = 0; i < n; i++) if (Atomics.load(w, GHOST + i) === t) return true;
  return false;
}

/** Drop the ghosts that are no longer in the queue [SERVED, TICKETS). */
function purgeGhosts(w: Int32Array): void {
  let n = Atomics.load(w, NGHOSTS);
  if (n === 0) return;
  const s = Atomics.load(w, SERVED);
  const waiting = (Atomics.load(w, TICKETS) - s) | 0;
  for (let i = 0; i < n; ) {
    const at = (Atomics.load(w, GHOST + i) - s) | 0;
    if (at >= 0 && at < waiting) i++;
    else {
      n--;
      Atomics.store(w, GHOST + i, Atomics.load(w, GHOST + n));
      Atomics.store(w, NGHOSTS, n);
    }
  }
}

/**
 * Serve up to `n` waiting tickets, oldest first, of those before `horizon`
 * (default: all); returns how many parked threads it woke. Under INNER.
 * Stores SERVED before touching any park word (see the invariants above),
 * then marks the slots of the tickets it served (with the horizon: the
 * tickets that were waiting then), then drops the ghosts it walked past.
 */
function serve(w: Int32Array, n: number, horizon?: number): number {
  const start = Atomics.load(w, SERVED);
  const end = Atomics.load(w, TICKETS);
  const limit = horizon ?? end;
  const ghosts = Atomics.load(w, NGHOSTS) > 0;
  let s = start;
  let woken = 0;
  let mask = 0;
  let unparked = 0;
  while (woken < n && s !== end && ((s - limit) | 0) < 0) {
    if (ghosts && isGhost(w, s)) {
      s = (s + 1) | 0;
      continue;
    }
    mask |= 1 << (s & PARK_MASK);
    s = (s + 1) | 0;
    woken++;
  }
  // Ghosts now at the head of the queue can go too: they keep the set small.
  if (ghosts) while (s !== end && isGhost(w, s)) s = (s + 1) | 0;
  if (woken > 0) Atomics.add(w, PENDING, woken);
  if (s !== start) Atomics.store(w, SERVED, s); // no write when nothing moved: spinners poll this line
  if (woken > 0) markServed(w, start, s, limit, ghosts);
  if (ghosts) purgeGhosts(w);
  if (mask !== 0) {
    for (let i = 0; i <= PARK_MASK; i++) if (mask & (1 << i)) Atomics.add(w, PARK + i, 1);
    if (Atomics.load(w, PARKED) > 0) {
      for (let i = 0; i <= PARK_MASK; i++) if (mask & (1 << i)) unparked += Atomics.notify(w, PARK + i);
    }
  }
  return unparked;
}

/** Take ticket `t` (not served) out of the queue. Under INNER. */
function cancel(w: Int32Array, t: number): void {
  let end = Atomics.load(w, TICKETS);
  let s = Atomics.load(w, SERVED);
  const ghosts = Atomics.load(w, NGHOSTS) > 0;
  if (t === ((end - 1) | 0)) {
    end = (end - 1) | 0;
    if (ghosts) while (end !== s && isGhost(w, (end - 1) | 0)) end = (end - 1) | 0;
    Atomics.store(w, TICKETS, end);
    if (ghosts) purgeGhosts(w);
  } else if (t === s) {
    s = (s + 1) | 0;
    if (ghosts) while (s !== end && isGhost(w, s)) s = (s + 1) | 0;
    Atomics.store(w, SERVED, s);
    if (ghosts) purgeGhosts(w);
  } else {
    const n = Atomics.load(w, NGHOSTS);
    if (n < MAX_GHOSTS) {
      Atomics.store(w, GHOST + n, t);
      Atomics.store(w, NGHOSTS, n + 1);
    } else {
      // Too many ghosts to track: wake everyone rather than risk losing a
      // wake-up (serve skips the ghosts and drops them). t is served too,
      // and will not come back to take itself off PENDING.
      serve(w, Number.POSITIVE_INFINITY);
      Atomics.sub(w, PENDING, 1);
    }
  }
}

// ---- slots: who waits on which ticket --------------------------------------

/** A slot's waiter word once its ticket is served (bit 31 over the liveness id; the ticket word then holds the horizon). */
const SERVED_MARK = 1 << 31;
const LIFE_MASK = ~SERVED_MARK;

/**
 * Mark the slots of the tickets just served, [start, end) less the ghosts:
 * the ticket word takes the horizon (tickets before it were waiting when
 * the wake-up was given), the waiter word SERVED_MARK. By CAS: a woken
 * waiter may be freeing its slot at the same time (without INNER).
 */
function markServed(w: Int32Array, start: number, end: number, horizon: number, ghosts: boolean): void {
  for (let k = SLOT; k < SLOT_END; k += 2) {
    const life = Atomics.load(w, k + 1);
    if (life <= 0) continue;
    const t = Atomics.load(w, k);
    if (((t - start) | 0) < 0 || ((end - t) | 0) <= 0 || (ghosts && isGhost(w, t))) continue;
    Atomics.store(w, k, horizon);
    Atomics.compareExchange(w, k + 1, life, life | SERVED_MARK);
  }
}

/**
 * Record ticket `t` (about to be issued) as this thread's in a free slot;
 * returns the slot's index, or -1 if all are taken. Under INNER.
 */
function takeSlot(w: Int32Array, t: number): number {
  for (let k = SLOT; k < SLOT_END; k += 2) {
    if (Atomics.load(w, k + 1) === 0) {
      Atomics.store(w, k, t);
      Atomics.store(w, k + 1, ME);
      return k;
    }
  }
  return -1;
}

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
function reclaimAll(w: Int32Array, gone: number[]): void {
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
function audit(w: Int32Array): void {
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

/** Take `lock` if it is free now, or becomes free within `spins` polls. */
function spinAcquire(lock: ConditionLock, spins: number): boolean {
  // Test before the compare-and-swap: a failed CAS still takes the cache line
  // from the holder, which then has to take it back to release.
  for (let i = 0; i <= spins; i++) if (!lock.locked && lock.tryAcquire()) return true;
  return false;
}

/**
 * Take `lock` within `spins` polls, letting woken waiters (PENDING) take it
 * back first for the first half: a newcomer that barged in would usually
 * find nothing to do and wait itself, making the woken waiter wait for the
 * lock in turn. A woken waiter that is slow to come back (it was parked) is
 * not waited for longer.
 */
function spinAcquirePolite(lock: ConditionLock, w: Int32Array, spins: number): boolean {
  const polite = spins >> 1;
  for (let i = 0; i < polite; i++) {
    if (Atomics.load(w, PENDING) <= 0 && !lock.locked && lock.tryAcquire()) return true;
  }
  return spinAcquire(lock, spins - polite);
}

function checkCount(n: unknown): number {
  if (typeof n !== 'number') throw new TypeError(`Condition.notify: n must be a number, got ${typeof n}`);
  if (Number.isNaN(n) || n < 0 || (!Number.isInteger(n) && n !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(`Condition.notify: n must be a non-negative integer or Infinity, got ${n}`);
  }
  return n;
}

function rejectBadOptions(options: WaitOptions | undefined, method: string): Promise<never> | undefined {
  if (options === undefined) return undefined;
  try {
    checkWaitOptions(options, method);
  } catch (error) {
    return Promise.reject(error);
  }
  return undefined;
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
  /** @internal the queue words. */
  declare readonly words: Int32Array;
  /** The lock this condition releases while waiting (a new RLock by default, as Python). */
  declare readonly lock: ConditionLock;
  /** This thread's spin budget (see SPIN_MAX); undefined until the first spin. */
  private spins: number | undefined;
  /** This thread's last notify woke a parked thread. */
  private wokeParked = false;
  /** The slot the last enqueue took (read at once by the wait that called it). */
  private slot = -1;
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
    cond.slot = -1;
    cond.parkedAsync = 0;
    return cond;
  }

  // ---- the lock's methods -------------------------------------------------

  /**
   * Wait without blocking until the lock is taken; `false` on timeout, rejects
   * with `signal.reason` if aborted (holding nothing).
   */
  acquire(options?: WaitOptions): Promise<boolean> {
    if (options !== undefined) {
      const bad = rejectBadOptions(options, 'Condition.acquire');
      if (bad) return bad;
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
    return this.quickAcquire(this.budget()) || this.lock.acquireSync(options);
  }

  /** The lock now, or after a polite spin (see spinAcquirePolite); false: go and park. */
  private quickAcquire(spins: number): boolean {
    const lock = this.lock;
    const w = this.words;
    if (lock instanceof RLock && lock.isOwned()) return lock.tryAcquire(); // re-entry
    if (Atomics.load(w, PENDING) <= 0 && !lock.locked && lock.tryAcquire()) return true;
    return this.spun(spinAcquirePolite(lock, w, spins));
  }

  /**
   * The spin budget of a wait: SPIN_WAKE right after a notify that woke a
   * parked thread while spins succeed, and not with a short timeout (the
   * spin comes on top of it). Clears the mark.
   */
  private waitBudget(timeout: number): number {
    const spins = this.budget();
    if (!this.wokeParked) return spins;
    this.wokeParked = false;
    return spins >= SPIN_SYNC && timeout >= 50 ? SPIN_WAKE : spins;
  }

  /** This thread's spin budget for the blocking paths (see SPIN_MAX). */
  private budget(): number {
    return this.spins ?? SPIN_SYNC;
  }

  /** Adapt the budget to how a spin ended: grow after a success, halve after a park. */
  private spun(success: boolean): boolean {
    const spins = this.spins ?? SPIN_SYNC;
    this.spins = success ? Math.min(spins + (spins >> 2) + 16, SPIN_MAX) : Math.max(spins >> 1, SPIN_MIN);
    return success;
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
   * @returns `true` if notified, `false` on timeout.
   * @throws ConcRuntimeError if the calling thread does not hold the lock.
   * @throws RangeError on a negative or NaN timeout (before anything changes).
   */
  waitSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'Condition.waitSync');
    const timeout = options?.timeout ?? Number.POSITIVE_INFINITY;
    this.checkOwned('waitSync');
    const t = this.enqueue();
    const slot = this.slot;
    const level = this.releaseSave();
    try {
      this.parkSync(t, timeout, timeout === 0 ? 0 : this.waitBudget(timeout));
    } finally {
      this.restoreSync(level);
    }
    return this.settle(t, slot);
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
    const bad = rejectBadOptions(options, 'Condition.wait');
    if (bad) return bad;
    try {
      this.checkOwned('wait');
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.waitAsync(deadlineOf(options?.timeout), signal);
  }

  private async waitAsync(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const t = this.enqueue();
    const slot = this.slot;
    const level = this.releaseSave();
    try {
      await this.parkAsync(t, deadline, signal);
    } finally {
      await this.restoreAsync(level);
    }
    return this.settle(t, slot, signal);
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
   * longest-waiting first. They return from `wait` once they get the lock
   * back, so after the caller releases it.
   *
   * @returns nothing (Python's returns None); waking nobody is not an error.
   * @throws ConcRuntimeError if the calling thread does not hold the lock;
   *   RangeError if `n` is negative, NaN or not an integer (Infinity is all).
   */
  notify(n = 1): void {
    checkCount(n);
    this.checkOwned('notify');
    const w = this.words;
    // Nobody waiting: nothing to take INNER for. Holding the lock, no wait can
    // be joining the queue now (a wait takes its ticket under the lock).
    if (n === 0 || Atomics.load(w, TICKETS) === Atomics.load(w, SERVED)) return;
    lockInner(w);
    try {
      if (serve(w, n) > 0) this.wokeParked = true;
    } finally {
      unlockInner(w);
    }
  }

  /** Wake every waiter (Python's `notify_all`). Throws ConcRuntimeError without the lock. */
  notifyAll(): void {
    this.checkOwned('notifyAll');
    const w = this.words;
    if (Atomics.load(w, TICKETS) === Atomics.load(w, SERVED)) return;
    lockInner(w);
    try {
      if (serve(w, Number.POSITIVE_INFINITY) > 0) this.wokeParked = true;
    } finally {
      unlockInner(w);
    }
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

  /**
   * Take a ticket (and a slot naming this thread, if one is free: its index
   * goes to `this.slot`, -1 without one). The slot is written before the
   * ticket is issued (a waiter that dies in between leaves a slot of a
   * ticket never issued, which a repair frees).
   */
  private enqueue(): number {
    const w = this.words;
    lockInner(w);
    const t = Atomics.load(w, TICKETS);
    this.slot = takeSlot(w, t);
    Atomics.store(w, TICKETS, (t + 1) | 0);
    unlockInner(w);
    return t;
  }

  /** Release the lock fully; returns what restore needs (the RLock level). */
  private releaseSave(): number {
    const lock = this.lock;
    const level = lock instanceof RLock ? lock.recursionLevel : 1;
    for (let i = 0; i < level; i++) lock.release();
    return level;
  }

  private restoreSync(level: number): void {
    // The notifier usually lets go of the lock a moment after notifying, and
    // may take it again at once: poll for a free moment rather than parking
    // on the lock (a park and wake costs ~30 us).
    const lock = this.lock;
    if (!this.spun(spinAcquire(lock, this.budget()))) lock.acquireSync();
    for (let i = 1; i < level; i++) lock.tryAcquire();
  }

  private async restoreAsync(level: number): Promise<void> {
    const lock = this.lock;
    if (!spinAcquire(lock, SPIN_ASYNC)) await lock.acquire();
    for (let i = 1; i < level; i++) lock.tryAcquire();
  }

  /**
   * Wait until ticket `t` is served or `timeout` ms pass (counted from the
   * park: a wait served while spinning never reads the clock, and the spin,
   * at most SPIN_MAX polls, adds at most some tens of microseconds; SPIN_WAKE
   * polls, about a millisecond, and only with timeouts of 50 ms or more).
   */
  private parkSync(t: number, timeout: number, spins: number): void {
    const w = this.words;
    for (let i = 0; i < spins; i++) {
      if (isServed(w, t)) {
        this.spun(true);
        return;
      }
    }
    if (spins > 0) this.spun(false);
    const start = performance.now();
    const deadline = timeout === Number.POSITIVE_INFINITY ? timeout : start + timeout;
    // Park for a SLICE at most: one that lasts it looks for waiters that died.
    let sliceEnd = Math.min(deadline, start + SLICE);
    const slot = PARK + (t & PARK_MASK);
    for (;;) {
      const v = Atomics.load(w, slot);
      Atomics.add(w, PARKED, 1);
      if (isServed(w, t)) {
        Atomics.sub(w, PARKED, 1);
        return;
      }
      const r = waitSync(w, slot, v, sliceEnd, 0);
      Atomics.sub(w, PARKED, 1);
      if (r === 'timed-out') {
        if (sliceEnd >= deadline) return;
        audit(w);
        sliceEnd = Math.min(deadline, performance.now() + SLICE);
      }
    }
  }

  private async parkAsync(t: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const w = this.words;
    for (let i = 0; i < SPIN_ASYNC; i++) if (isServed(w, t)) return;
    const slot = PARK + (t & PARK_MASK);
    // While parked, look for waiters that died now and then, on core's tick
    // (a short waitAsync timeout would cost a V8 task per park).
    this.parkedAsync++;
    if (this.stopAudits === undefined) this.stopAudits = onLivenessTick(() => this.auditTick());
    try {
      for (;;) {
        if (signal?.aborted) return;
        const v = Atomics.load(w, slot);
        Atomics.add(w, PARKED, 1);
        if (isServed(w, t)) {
          Atomics.sub(w, PARKED, 1);
          return;
        }
        const r = await waitAsync(w, slot, v, deadline, signal, 0);
        Atomics.sub(w, PARKED, 1);
        if (r === 'timed-out') return;
      }
    } finally {
      this.parkedAsync--;
    }
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

  /**
   * Holding the lock again: was ticket `t` served? If not, take it out of
   * the queue. `slot`: the slot the wait took (-1: none), freed here.
   */
  private settle(t: number, slot: number, signal?: AbortSignal): boolean {
    const w = this.words;
    const aborted = signal?.aborted === true;
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
    if (aborted) throw signal!.reason;
    return served;
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
