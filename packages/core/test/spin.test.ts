// AdaptiveSpin (spin.ts): the budget grows while spins see the change, halves
// while they fail (a waiter whose peer is not running: more runnable threads
// than cores), and a short capped spin that fails changes nothing.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AdaptiveSpin, SPIN_MAX, SPIN_MIN, SPIN_START } from '@conc/core';

function words(n = 1): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

describe('AdaptiveSpin', () => {
  it('halves the budget at each failed spin, down to SPIN_MIN, and parks almost at once there', () => {
    const spin = new AdaptiveSpin();
    const w = words();
    expect(spin.budget).toBe(SPIN_START);
    const seen = [];
    for (let i = 0; i < 8; i++) {
      expect(spin.whileEqual(w, 0, 0)).toBe(false); // nobody changes the word: every spin fails
      seen.push(spin.budget);
    }
    expect(seen).toEqual([1000, 500, 256, 256, 256, 256, 256, 256]);
    expect(SPIN_MIN).toBe(256);
  });

  it('grows the budget by a quarter (+16) at each successful spin, up to SPIN_MAX', () => {
    const spin = new AdaptiveSpin(SPIN_MIN);
    const w = words();
    w[0] = 1;
    let last = spin.budget;
    for (let i = 0; i < 30; i++) {
      expect(spin.whileEqual(w, 0, 0)).toBe(true);
      expect(spin.budget).toBe(Math.min(last + (last >> 2) + 16, SPIN_MAX));
      last = spin.budget;
    }
    expect(spin.budget).toBe(SPIN_MAX);
  });

  it('a failed spin capped below SPIN_MIN (an async wait) leaves the budget alone; one capped above halves what it did', () => {
    const spin = new AdaptiveSpin(SPIN_MAX);
    const w = words();
    expect(spin.whileEqual(w, 0, 0, 50)).toBe(false);
    expect(spin.budget).toBe(SPIN_MAX);
    expect(spin.whileEqual(w, 0, 0, 2000)).toBe(false);
    expect(spin.budget).toBe(1000);
    expect(spin.record(true)).toBe(true);
    expect(spin.budget).toBe(1000 + 250 + 16);
    expect(spin.record(false)).toBe(false);
    expect(spin.budget).toBe((1000 + 250 + 16) >> 1);
  });

  it('at SPIN_MIN, every 16th spin is a probe of the full cap: success restores SPIN_START, failure doubles the interval', () => {
    const spin = new AdaptiveSpin(SPIN_MIN);
    const w = words();
    const probeAt = (): number => {
      for (let i = 1; i <= 5000; i++) if (spin.polls(SPIN_MAX) === SPIN_MAX) return i;
      return -1;
    };
    // Each polls() not followed by a record is a spin at SPIN_MIN; record() closes the probe.
    expect(probeAt()).toBe(16);
    expect(spin.record(false, SPIN_MAX)).toBe(false);
    expect(spin.budget).toBe(SPIN_MIN);
    expect(probeAt()).toBe(32);
    spin.record(false, SPIN_MAX);
    expect(probeAt()).toBe(64);
    expect(spin.record(true, SPIN_MAX)).toBe(true);
    expect(spin.budget).toBe(SPIN_START);
    // whileEqual probes too: a word that another spin would have seen change is seen by the probe.
    const floor = new AdaptiveSpin(SPIN_MIN);
    for (let i = 0; i < 15; i++) expect(floor.whileEqual(w, 0, 0)).toBe(false);
    expect(floor.budget).toBe(SPIN_MIN);
    w[0] = 1;
    expect(floor.whileEqual(w, 0, 0)).toBe(true); // the 16th: a probe
    expect(floor.budget).toBe(SPIN_START);
    // a short capped spin never probes
    const short = new AdaptiveSpin(SPIN_MIN);
    for (let i = 0; i < 100; i++) expect(short.polls(50)).toBe(50);
  });

  it('a spin sees a change made by another thread', async () => {
    const w = words();
    const spin = new AdaptiveSpin(SPIN_MAX);
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       Atomics.store(workerData, 0, 1); Atomics.notify(workerData, 0);`,
      { eval: true, workerData: w },
    );
    // Spin until the worker's store shows (bounded: 10 s of spins at most).
    const start = performance.now();
    let seen = false;
    while (!seen && performance.now() - start < 10_000) seen = spin.whileEqual(w, 0, 0);
    expect(seen).toBe(true);
    await new Promise((resolve) => worker.once('exit', resolve));
  });
});
