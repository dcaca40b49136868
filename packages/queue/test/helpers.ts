import type { Worker } from 'node:worker_threads';
import { expect } from 'vitest';
import { spawnKillable } from '@conc/testing';
import { Thread } from '@conc/thread';
import type { Queue } from '@conc/queue';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export function fixture(name: string): { module: URL; export: string } {
  return { module: targets, export: name };
}

/** Start a thread running fixtures/targets.mjs's `name` with `args`. */
export function spawn(name: string, args: unknown[] = []): Thread {
  return new Thread({ target: fixture(name), args }).start();
}

/** Join with a timeout and fail (instead of hanging) if the thread does not end. */
export async function finish<R = unknown>(t: Thread, timeout = 25_000): Promise<R> {
  if (!(await t.join({ timeout }))) throw new Error(`${t.name} did not end within ${timeout} ms`);
  return t.result as R;
}

/** The queue's @internal side (src/side.ts) whose sleepers are counted: its getters or putters. */
function sideOf(q: Queue<any>, side: 'get' | 'put'): { sleepers(): number } {
  const sides = q as unknown as { getters: { sleepers(): number }; putters: { sleepers(): number } };
  return side === 'get' ? sides.getters : sides.putters;
}

/** Wait (without blocking) until `n` getters / putters are parked on the queue. */
export async function untilWaiting(q: Queue<any>, side: 'get' | 'put', n: number, timeout = 15_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (sideOf(q, side).sleepers() < n) {
    if (performance.now() > deadline)
      throw new Error(`never saw ${n} waiting ${side}ters (saw ${sideOf(q, side).sleepers()})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Number of parked getters / putters right now. */
export function waiting(q: Queue<any>, side: 'get' | 'put'): number {
  return sideOf(q, side).sleepers();
}

/** Expect two lists to hold the same elements, counted (order ignored). */
export function expectSameMultiset(actual: string[], expected: string[]): void {
  expect(actual.length).toBe(expected.length);
  const counts = new Map<string, number>();
  for (const k of expected) counts.set(k, (counts.get(k) ?? 0) + 1);
  const extra: string[] = [];
  for (const k of actual) {
    const c = counts.get(k);
    if (!c) extra.push(k);
    else counts.set(k, c - 1);
  }
  const missing = [...counts].filter(([, c]) => c > 0).map(([k]) => k);
  expect({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }).toEqual({ missing: [], extra: [] });
}

/** Keys 'p:i' of producer p's n items. */
export function keysOf(p: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${p}:${i}`);
}

/** Drain the queue without waiting. */
export function drain<T>(q: Queue<T>): T[] {
  const out: T[] = [];
  while (q.qsize() > 0) out.push(q.getNowait());
  return out;
}

/** Start a Thread running fixtures/targets.mjs's `name`; its Worker, which a test can terminate(). */
export function startWorker(name: string, args: unknown[] = []): Worker {
  return spawnKillable({ module: new URL('./fixtures/targets.mjs', import.meta.url), export: name }, args);
}

/** `p`, but rejected if it has not settled within `ms`: a call that must settle (its timeout is shorter). */
export function within<T>(p: Promise<T>, ms: number, what = 'the call'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Let `ms` pass without blocking. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait without blocking until `words[i] >= n`; throws after `timeout` ms. */
export async function untilAtLeast(words: Int32Array, i: number, n: number, timeout = 10_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (Atomics.load(words, i) < n) {
    if (performance.now() > deadline) throw new Error(`word ${i} never reached ${n} (is ${Atomics.load(words, i)})`);
    await pause(2);
  }
}
