/**
 * AdaptiveSpin: how many times a waiter polls a word before it parks, the
 * adaptive spinning policy of conc (Condition, Barrier, and core's plain
 * waits, spinWhileEqual in wait.ts, with a window: see "Windowed" below).
 *
 * Why spin at all: parking and waking a thread costs ~30 us here, while a
 * peer that is running usually changes the word within a few hundred
 * nanoseconds. Why not always: a spin only pays if the peer is running on
 * another core. When runnable threads outnumber cores (N threads on 2
 * cores), the peer that would change the word is often waiting for the very
 * core the spinner holds, and every poll delays it.
 *
 * Policy: a budget of polls, kept per waiter (one per primitive object in a
 * thread):
 *   - a spin that sees the change (success) grows the budget by a quarter
 *     (+16), up to SPIN_MAX (about 40 us of polling);
 *   - a spin that spends its whole budget and parks (failure) halves it
 *     (the polls it did, if its caller capped it lower), down to SPIN_MIN (a microsecond or two: still enough to catch a peer
 *     that is mid-hand-off, and to notice when spins start paying again).
 * With a core each, hand-offs are found while spinning and the budget stays
 * high; with more runnable threads than cores, spins fail, and within a few
 * waits the budget is at SPIN_MIN, so a wait parks almost at once, as
 * Python's does.
 *
 * Probes: a budget at SPIN_MIN cannot tell by itself when spinning would pay
 * again. Two threads that hand off and both park each time stay that way,
 * whatever the load: each wake-up (30-300 us) outlasts the other's short
 * spin, so no spin ever succeeds (measured: a Condition ping-pong stuck at
 * 30 k/s while the raw baseline ran at 4.5 M/s beside it). So every
 * probeEvery-th spin at SPIN_MIN is a probe, as long as its caller allows
 * (SPIN_MAX polls, or a caller's longer spin after it woke a parked peer):
 * a probe that succeeds puts the budget back at SPIN_START; one that fails
 * doubles the wait for the next probe (16 spins at first, at most 1024), so
 * under a real overload probes cost a few percent at most. A failed spin of fewer than SPIN_MIN polls (an async wait
 * polls a few dozen times only: its thread has an event loop to run) says
 * nothing about the budget, and changes nothing.
 *
 * Windowed (a `window` given to the constructor, core's plain waits): a
 * failed spin shrinks the budget only while failures dominate, more than
 * half of the last `window` spins; a success below SPIN_START doubles the
 * budget (grows back fast). Why: in a healthy two-thread ping-pong most
 * spins succeed, and the odd failure (a preemption, a page fault) says
 * nothing about the next wait; halving at each one made the next spins
 * shorter, they parked more, and one park costs about a hundred hand-offs
 * (an Event ping-pong at ~60% of the fixed spin's rate, issue 10). With
 * more runnable threads than cores nearly every spin fails, so the window
 * fills with failures within `window`/2 waits and the budget comes down as
 * before.
 *
 * Cost: nothing on the fast paths (a primitive consults its spin only once
 * its fast path failed); one read and one write of a plain field per spin.
 * The budget is per thread and not shared: no Atomics, no cache line moves.
 */

/** The most polls an adaptive spin does before parking (about 40 us here). */
export const SPIN_MAX = 4000;
/** The fewest: what a spin that keeps failing comes down to. */
export const SPIN_MIN = 256;
/** Where a budget starts: the fixed spin conc used before it adapted. */
export const SPIN_START = 2000;

/** Failed spins at SPIN_MIN before the first probe (see the top of spin.ts). */
const PROBE_FIRST = 16;
/** The most failed spins at SPIN_MIN between two probes. */
const PROBE_MAX = 1024;

/** A spin budget that adapts to whether spinning pays (see the top of spin.ts). */
export class AdaptiveSpin {
  /** Polls the next spin may do. */
  budget: number;
  /** Spins at SPIN_MIN between probes: doubles after a failed probe, back to PROBE_FIRST once spins pay fully. */
  private probeEvery = PROBE_FIRST;
  /** Spins at SPIN_MIN left before the next probe. */
  private probeIn = PROBE_FIRST;
  /** The spin under way is a probe (set by polls, cleared by record). */
  private probing = false;
  /** Windowed: how many recent spins count (0: not windowed, every failure shrinks). */
  private readonly window: number;
  /** Windowed: the last `window` outcomes, one bit each (1: failed), newest in bit 0. */
  private history = 0;
  /** Windowed: how many bits of `history` are set. */
  private failures = 0;

  /**
   * @param budget the polls of the first spin.
   * @param window 0 (default): halve at each failed spin; 1..31: halve only
   *   while more than half of the last `window` spins failed, and double a
   *   budget below SPIN_START on success (see "Windowed" at the top).
   */
  constructor(budget: number = SPIN_START, window = 0) {
    if (!Number.isInteger(window) || window < 0 || window > 31) {
      throw new RangeError(`AdaptiveSpin: window must be an integer in 0..31, got ${window}`);
    }
    this.budget = budget;
    this.window = window;
  }

  /**
   * How many polls the next spin does, `cap` at most: the budget, or `cap`
   * itself when the budget is at SPIN_MIN and a probe is due. The caller
   * then reports how it ended with {@link record}.
   */
  polls(cap: number = SPIN_MAX): number {
    if (this.budget <= SPIN_MIN && cap > SPIN_MIN && --this.probeIn <= 0) {
      this.probing = true;
      return cap;
    }
    return Math.min(cap, this.budget);
  }

  /**
   * Polls for a spin that is worth making `long` when spinning pays (the
   * budget is at least SPIN_START), or as a probe when one is due; else the
   * budget. Report the end with {@link record}.
   */
  long(long: number): number {
    return this.budget >= SPIN_START ? long : this.polls(long);
  }

  /**
   * Poll `words[index]` while it equals `value`, {@link polls}(cap) times at
   * most; true as soon as it differs. Adapts the budget.
   */
  whileEqual(words: Int32Array, index: number, value: number, cap: number = SPIN_MAX): boolean {
    const n = this.polls(cap);
    for (let i = 0; i < n; i++) if (Atomics.load(words, index) !== value) return this.record(true, n);
    return this.record(false, n);
  }

  /**
   * Record how a spin of `polls` polls ended: grow the budget on success,
   * halve it (or the polls, if fewer) on failure; a failed spin of fewer
   * than SPIN_MIN polls changes nothing. A probe that succeeded puts the
   * budget back at SPIN_START; one that failed doubles the time to the
   * next. Returns `success`.
   */
  record(success: boolean, polls: number = this.budget): boolean {
    if (this.window > 0) return this.recordWindowed(success, polls);
    if (this.probing) {
      this.probing = false;
      if (success) this.budget = SPIN_START;
      else this.probeEvery = Math.min(this.probeEvery * 2, PROBE_MAX);
      this.probeIn = this.probeEvery;
    } else if (success) {
      this.budget = grown(this.budget);
      if (this.budget === SPIN_MAX) this.probeEvery = PROBE_FIRST;
    } else if (polls >= SPIN_MIN) {
      this.budget = shrunk(Math.min(polls, this.budget));
    }
    return success;
  }

  /** {@link record} of a windowed spin (see "Windowed" at the top). */
  private recordWindowed(success: boolean, polls: number): boolean {
    if (!success && polls < SPIN_MIN && !this.probing) return false; // says nothing (as record)
    const k = this.window;
    const oldest = (this.history >>> (k - 1)) & 1;
    this.history = ((this.history << 1) | (success ? 0 : 1)) & ((1 << k) - 1);
    this.failures += (success ? 0 : 1) - oldest;
    if (this.probing) {
      this.probing = false;
      if (success) this.budget = SPIN_START;
      else this.probeEvery = Math.min(this.probeEvery * 2, PROBE_MAX);
      this.probeIn = this.probeEvery;
    } else if (success) {
      this.budget = this.budget < SPIN_START ? Math.min(this.budget * 2, SPIN_START) : grown(this.budget);
      if (this.budget === SPIN_MAX) this.probeEvery = PROBE_FIRST;
    } else if (2 * this.failures > k) {
      this.budget = shrunk(Math.min(polls, this.budget));
    }
    return success;
  }
}

function grown(budget: number): number {
  const next = budget + (budget >> 2) + 16;
  return Math.min(next, SPIN_MAX);
}

function shrunk(budget: number): number {
  const next = budget >> 1;
  return Math.max(next, SPIN_MIN);
}
