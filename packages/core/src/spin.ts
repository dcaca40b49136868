/**
 * AdaptiveSpin: how many times a waiter polls a word before it parks, the one
 * spinning policy of conc (core's waits, Condition, Barrier).
 *
 * Why spin at all: parking and waking a thread costs ~30 us here, while a
 * peer that is running usually changes the word within a few hundred
 * nanoseconds. Why not always: a spin only pays if the peer is running on
 * another core. When runnable threads outnumber cores (N threads on 2
 * cores), the peer that would change the word is often waiting for the very
 * core the spinner holds, and every poll delays it.
 *
 * Policy: a budget of polls, kept per waiter (one per primitive object in a
 * thread, or one per thread for core's plain waits):
 *   - a spin that sees the change (success) grows the budget by a quarter
 *     (+16), up to SPIN_MAX (about 40 us of polling);
 *   - a spin that spends its whole budget and parks (failure) halves it
 *     (the polls it did, if its caller capped it lower), down to SPIN_MIN (a microsecond or two: still enough to catch a peer
 *     that is mid-hand-off, and to notice when spins start paying again).
 * With a core each, hand-offs are found while spinning and the budget stays
 * high; with more runnable threads than cores, spins fail, and within a few
 * waits the budget is at SPIN_MIN, so a wait parks almost at once, as
 * Python's does. A failed spin of fewer than SPIN_MIN polls (an async wait
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

/** A spin budget that adapts to whether spinning pays (see the top of spin.ts). */
export class AdaptiveSpin {
  /** Polls the next spin may do. */
  budget: number;

  constructor(budget: number = SPIN_START) {
    this.budget = budget;
  }

  /**
   * Poll `words[index]` while it equals `value`, at most the budget (or
   * `cap`, if lower) times; true as soon as it differs. Adapts the budget.
   */
  whileEqual(words: Int32Array, index: number, value: number, cap: number = SPIN_MAX): boolean {
    const budget = this.budget;
    const n = Math.min(cap, budget);
    for (let i = 0; i < n; i++) {
      if (Atomics.load(words, index) !== value) {
        this.budget = grown(budget);
        return true;
      }
    }
    if (n >= SPIN_MIN) this.budget = shrunk(n);
    return false;
  }

  /**
   * Record how a spin the caller ran itself (over `budget` polls) ended:
   * grow on success, halve on failure. Returns `success`.
   */
  record(success: boolean): boolean {
    this.budget = success ? grown(this.budget) : shrunk(this.budget);
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

/**
 * The spin of core's plain waits (`spinWhileEqual`, `waitSync`,
 * `waitAsync`) in this thread: one budget for all of them (they have no
 * object to keep one in).
 */
export const threadSpin = new AdaptiveSpin();
