/**
 * Barrier's words and the sections that change them under its MUTEX (the
 * algorithm and its invariants are at the top of barrier.ts): the layout, the
 * robust MUTEX over it, arriving and leaving, reaping dead parties, and the
 * errors a waiter is given.
 */
import {
  ROBUST_CHECK_MS,
  currentThreadToken,
  robustLockSync,
  robustTryLock,
  robustUnlock,
  threadEnded,
  wake,
} from '@conc/core';
import { BrokenBarrierError } from './errors.js';

export const MUTEX = 0;
export const STATE = 1;
export const COUNT = 2;
export const SEQ = 3;
export const PARKED = 4;
export const HOLDER = 5;
export const SLOTS = 6;
/** Arrival slots kept: parties beyond this many are not watched for death. */
export const TRACKED = 1024;

export const FILLING = 0;
export const DRAINING = 1;
export const RESETTING = 2;
export const BROKEN = 3;

/** Polls of a busy MUTEX before parking on it: it is only ever held for a few loads and stores. */
export const SPIN_MUTEX = 200;

export function lockSync(w: Int32Array): void {
  if (robustTryLock(w, MUTEX, HOLDER)) return;
  robustLockSync(w, MUTEX, HOLDER, Number.POSITIVE_INFINITY, threadEnded, SPIN_MUTEX);
}

export function unlock(w: Int32Array): void {
  robustUnlock(w, MUTEX, HOLDER);
}

/** Arrive: take the next index and record who holds it. Under MUTEX. */
export function arrive(w: Int32Array): number {
  const index = Atomics.add(w, COUNT, 1);
  if (SLOTS + index < w.length) Atomics.store(w, SLOTS + index, currentThreadToken());
  return index;
}

/** Uncount the parties that ended while counted (see the top of this file). Under MUTEX. */
export function reapDead(w: Int32Array): void {
  for (let i = SLOTS; i < w.length; i++) {
    const token = Atomics.load(w, i);
    if (token === 0 || !threadEnded(token)) continue;
    Atomics.store(w, i, 0);
    const state = Atomics.load(w, STATE);
    const left = Atomics.sub(w, COUNT, 1) - 1;
    if (state === FILLING) setState(w, BROKEN);
    else if (left === 0 && (state === DRAINING || state === RESETTING)) setState(w, FILLING);
  }
}

/** The end of a park slice: the deadline, or ROBUST_CHECK_MS from now if sooner. */
export function sliceEnd(deadline: number): number {
  return Math.min(deadline, performance.now() + ROBUST_CHECK_MS);
}

/** Change STATE and wake every sleeper. Under MUTEX. */
export function setState(w: Int32Array, state: number): void {
  Atomics.store(w, STATE, state);
  Atomics.add(w, SEQ, 1);
  if (Atomics.load(w, PARKED) > 0) wake(w, SEQ);
}

/** The last one out of a released or reset generation opens the next. Under MUTEX. */
export function leave(w: Int32Array, index: number): void {
  if (SLOTS + index < w.length) Atomics.store(w, SLOTS + index, 0);
  const left = Atomics.sub(w, COUNT, 1) - 1;
  const state = Atomics.load(w, STATE);
  if (left === 0 && (state === DRAINING || state === RESETTING)) setState(w, FILLING);
}

export function brokenError(method: string, state: number): BrokenBarrierError {
  return new BrokenBarrierError(
    state === RESETTING
      ? `Barrier.${method}: the barrier was reset while this thread waited`
      : `Barrier.${method}: the barrier is broken (aborted, a wait timed out, or a party ended while waiting); reset() it to use it again`,
  );
}

export function timedOut(method: string): BrokenBarrierError {
  return new BrokenBarrierError(`Barrier.${method}: timed out; the barrier is now broken for every waiter`);
}
