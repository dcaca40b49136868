/**
 * The ticket queue of a Condition: who waits, in which order, and who has
 * been served (woken). The algorithm of Condition lives here and in
 * death.ts (waiters that die); condition.ts drives it, and handoff.ts holds
 * the spinning policy.
 *
 * Layout: 64 shared Int32 words (256 bytes, four cache lines), beside the
 * lock's own words. A hand-off moves as few cache lines as it can between
 * the notifier and the waiter: the waiter spins on SERVED's line, which a
 * notify writes once (SERVED) when the waiter is spinning, and which also
 * holds TICKETS, so that notify's "anyone waiting?" reads one line; all the
 * rest a notify writes (PENDING, the slots) is on INNER's line, which the
 * notify holds already, and which the waiter touches only to take its
 * ticket and, once back, to free its slot and take itself off PENDING (one
 * line for both).
 *   [0]  INNER    a small futex mutex guarding the queue words; it names its
 *                 holder (core's named lock: 0 free, else the holder's
 *                 liveness id << 1, bit 0 while waiters may be parked)
 *   [1]  PENDING  woken waiters that have not yet taken the lock back
 *   [2..15] SLOT  seven (ticket, waiter) pairs: which thread (its liveness
 *                 id, @conc/core's threadLivenessId) waits on which ticket,
 *                 or was served on it and has not come back; the ticket word
 *                 of a served slot holds its horizon instead (the TICKETS of
 *                 the notify: the tickets that were waiting then)
 *   [16] SERVED   every ticket before it is resolved (woken, or cancelled)
 *   [17] TICKETS  the next ticket to hand out
 *   [18] PARKED   waiters parked (core's waitSync / waitAsync) right now
 *   [19] NGHOSTS  how many entries of GHOST are in use
 *   [24..31] PARK eight park words; ticket t parks on PARK + (t & 7)
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
 *            then, if PARKED > 0, bump the PARK word of each woken ticket
 *            and wake it (core's wake).
 *
 * INNER is core's named lock (futex.ts, namedLockSync): one CAS takes it and
 * names the holder, so a holder that dies in a section is found and the
 * section repaired (death.ts).
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
 *     notify stores SERVED, then reads PARKED, and only if it is > 0 bumps
 *     the park word and wakes it (all Atomics are sequentially consistent).
 *     So either the waiter's increment comes after notify's read, and its
 *     check sees SERVED > t; or notify sees PARKED > 0, and the changed park
 *     word makes the park return at once or be woken by notify's wake.
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
 *     a waiter served while spinning costs the notifier no park-word write
 *     and no wake.
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
  LOCK_TOOK_OVER,
  namedHolder,
  namedLockSync,
  namedTryLock,
  namedUnlock,
  LIVENESS_TICK,
  threadLivenessId,
  wake,
} from '@conc/core';
import { reclaimAll } from './death.js';

export const INNER = 0;
/**
 * Woken waiters that have not yet taken the lock back. On INNER's line: a
 * notify writes it while it holds INNER, and the woken waiter takes itself
 * off in the same line as it frees its slot; the line spinners poll
 * (SERVED's) then changes once per notify.
 */
export const PENDING = 1;
/**
 * Slots [2..15], seven pairs (ticket, waiter): who waits on which ticket,
 * so that the tickets of threads that died can be found (see death.ts). The
 * waiter word is the thread's liveness id (@conc/core's threadLivenessId),
 * or'ed with SERVED_MARK once the ticket is served (the ticket word then
 * holds the horizon, see markServed), 0 for a free slot. On INNER's line:
 * written under INNER by a wait taking its ticket and by notify, so a
 * notify's marks do not touch the line a spinning waiter polls.
 */
export const SLOT = 2;
export const SLOT_END = 16;
/** On a cache line of its own with TICKETS, PARKED, NGHOSTS and PARK: spinning waiters poll this line. */
export const SERVED = 16;
/** The next ticket to hand out; beside SERVED, so notify's "anyone waiting?" reads one line. */
export const TICKETS = 17;
export const PARKED = 18;
export const NGHOSTS = 19;
export const PARK = 24;
export const PARK_MASK = 7;
export const GHOST = 32;
export const MAX_GHOSTS = 32;
export const WORDS = GHOST + MAX_GHOSTS;
/**
 * The longest park (ms) of a blocking wait before it looks for waiters that
 * died (and of a waiter for INNER before it asks whether its holder did);
 * the park is then resumed. Async waits look as often, on core's liveness
 * tick (LIVENESS_TICK).
 */
export const SLICE = LIVENESS_TICK;
/** Polls for INNER before parking (its sections are a few loads and stores long). */
const SPIN_INNER = 100;

/** Was ticket `t` served? */
export function isServed(w: Int32Array, t: number): boolean {
  return ((Atomics.load(w, SERVED) - t) | 0) > 0;
}

// ---- INNER: core's named lock ------------------------------------------------

/** This thread's liveness id: what INNER and the slots name it by. */
export const ME = threadLivenessId();
/** INNER's word while this thread holds it (core's named futex: the id << 1). */
const HELD = namedHolder();
/** Whom lockInner took INNER over from (set by core's namedLockSync). */
const tookOver = { holder: 0 };

/**
 * Take INNER. Its waiters spin SPIN_INNER polls, then park for NAMED_CHECK_MS at a
 * time; one that finds the holder gone takes INNER over and repairs.
 */
export function lockInner(w: Int32Array): void {
  if (namedTryLock(w, INNER, HELD)) return;
  if (namedLockSync(w, INNER, HELD, Number.POSITIVE_INFINITY, SPIN_INNER, tookOver) === LOCK_TOOK_OVER) {
    repairInner(w, tookOver.holder);
  }
}

export function unlockInner(w: Int32Array): void {
  namedUnlock(w, INNER);
}

/**
 * Taken over from `dead`, a holder that died in a section: make the queue
 * words consistent again. Every section writes in an order such that
 * whatever prefix of it ran leaves at worst ghosts outside [SERVED, TICKETS)
 * (dropped here), slots of the dead thread (reclaimed here, as an audit
 * would), a PENDING off by one (a hint), or parked waiters that were served
 * and not woken (woken here: they re-check).
 */
export function repairInner(w: Int32Array, dead: number): void {
  purgeGhosts(w);
  reclaimAll(w, [dead]);
  if (Atomics.load(w, PENDING) < 0) Atomics.store(w, PENDING, 0);
  for (let i = PARK; i <= PARK + PARK_MASK; i++) {
    Atomics.add(w, i, 1);
    wake(w, i);
  }
}

// ---- the ticket queue (all under INNER) -----------------------------------

export function isGhost(w: Int32Array, t: number): boolean {
  const n = Atomics.load(w, NGHOSTS);
  for (let i = 0; i < n; i++) if (Atomics.load(w, GHOST + i) === t) return true;
  return false;
}

/** Drop the ghosts that are no longer in the queue [SERVED, TICKETS). */
export function purgeGhosts(w: Int32Array): void {
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
export function serve(w: Int32Array, n: number, horizon?: number): number {
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
  // Park words only while someone is parked (see "No lost wake-up" above):
  // a waiter served while spinning costs no write to them.
  if (mask !== 0 && Atomics.load(w, PARKED) > 0) {
    for (let i = 0; i <= PARK_MASK; i++) {
      if (mask & (1 << i)) {
        Atomics.add(w, PARK + i, 1);
        unparked += wake(w, PARK + i);
      }
    }
  }
  return unparked;
}

/** Take ticket `t` (not served) out of the queue. Under INNER. */
export function cancel(w: Int32Array, t: number): void {
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
export const SERVED_MARK = 1 << 31;
export const LIFE_MASK = ~SERVED_MARK;

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
export function takeSlot(w: Int32Array, t: number): number {
  for (let k = SLOT; k < SLOT_END; k += 2) {
    if (Atomics.load(w, k + 1) === 0) {
      Atomics.store(w, k, t);
      Atomics.store(w, k + 1, ME);
      return k;
    }
  }
  return -1;
}
