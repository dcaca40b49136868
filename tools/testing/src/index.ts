/**
 * Test helpers shared by every package's tests (not published). Each one
 * turns a hang into a failure: joins, waits and promises all carry a timeout.
 */
import { type ModuleTarget, Thread } from '@conc/thread';

/** A function (any parameters) or module target. */
export type AnyTarget = ((...args: any[]) => unknown) | ModuleTarget;

/** `fixtureOf(url)(name)`: a module target for an export of a fixture module. */
export function fixtureOf(module: URL): (name: string) => { module: URL; export: string } {
  return (name) => ({ module, export: name });
}

/** Start a thread and return it. */
export function spawn(target: AnyTarget, args: unknown[] = []): Thread {
  return new Thread({ target, args }).start();
}

/**
 * Start a thread and return its Worker, which a test can terminate() (a
 * Thread has no terminate, as in Python). A Thread, not a raw Worker: only
 * conc's threads are watched for their death (core's liveness.ts).
 */
export function spawnKillable(target: AnyTarget, args: unknown[] = []): import('node:worker_threads').Worker {
  return (spawn(target, args) as unknown as { worker: import('node:worker_threads').Worker }).worker;
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

/** Shared Int32 words (plain shared memory, not a conc primitive). */
export function sharedInts(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/** Let `ms` pass without blocking. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait without blocking until `read()` returns `value`; throws after `timeout` ms. */
export async function untilValue<T>(read: () => T, value: T, timeout = 10_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (read() !== value) {
    if (performance.now() > deadline) throw new Error(`never became ${String(value)} (is ${String(read())})`);
    await pause(2);
  }
}

/** Wait without blocking until `words[index] === value`; throws after `timeout` ms. */
export function untilWord(words: Int32Array, index: number, value: number, timeout = 10_000): Promise<void> {
  return untilValue(() => Atomics.load(words, index), value, timeout);
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
  if (performance.now() - started >= timeout) {
    throw new Error(`the wait was not woken within its ${timeout} ms timeout`);
  }
  return result;
}
