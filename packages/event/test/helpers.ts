import { type ModuleTarget, Thread } from '@conc/thread';

/** A function (any parameters) or module target. */
export type AnyTarget = ((...args: any[]) => unknown) | ModuleTarget;

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export function fixture(name: string): { module: URL; export: string } {
  return { module: targets, export: name };
}

/** Start a thread and return it. */
export function spawn(target: AnyTarget, args: unknown[] = []): Thread {
  return new Thread({ target, args }).start();
}

/** Join with a timeout and fail (instead of hanging) if the thread does not end. */
export async function finish<R = unknown>(t: Thread, timeout = 20_000): Promise<R> {
  if (!(await t.join({ timeout }))) throw new Error(`${t.name} did not end within ${timeout} ms`);
  return t.result as R;
}

/** Run a target in a new thread to the end and return its result. */
export function run<R = unknown>(target: AnyTarget, args: unknown[] = []): Promise<R> {
  return finish<R>(spawn(target, args));
}

/** Shared Int32 words (not a conc primitive: plain shared memory). */
export function sharedInts(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/** Wait without blocking until `words[index] === value`; throws after `timeout` ms. */
export async function until(words: Int32Array, index: number, value: number, timeout = 10_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (Atomics.load(words, index) !== value) {
    if (performance.now() > deadline) throw new Error(`word ${index} never became ${value} (is ${words[index]})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * `p`, but rejected if it has not settled within `ms`: for promises that must
 * settle promptly (an abort) even though what they wait on has a longer timeout.
 */
export function within<T>(p: Promise<T>, ms: number, what = 'promise'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Run a blocking wait given `timeout` ms, and fail if it returned only
 * because that timeout ran out: a wake-up was lost (a wait that re-checks
 * after its timeout could otherwise still report success).
 */
export function beforeTimeout<T>(timeout: number, wait: (timeout: number) => T): T {
  const started = performance.now();
  const result = wait(timeout);
  if (performance.now() - started >= timeout)
    throw new Error(`the wait was not woken within its ${timeout} ms timeout`);
  return result;
}
