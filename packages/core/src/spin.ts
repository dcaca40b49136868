/**
 * AdaptiveSpin: how many times a waiter polls a word before it parks, the
 * adaptive spinning policy of conc (Condition, Barrier; core's plain waits
 * keep a fixed count for now: see spinWhileEqual in wait.ts for why).
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

  constructor(budget: number = SPIN_START) {
    this.budget = budget;
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
}

function grown(budget: number): number {
  const next = budget + (budget >> 2) + 16;
  return Math.min(next, SPIN_MAX);
}

function shrunk(budget: number): number {
  const next = budget >> 1;
  return Math.max(next, SPIN_MIN);
}
