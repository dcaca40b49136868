import { Thread } from '@conc/thread';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export function fixture(name: string): { module: URL; export: string } {
  return { module: targets, export: name };
}

/** Start a thread running fixtures/targets.mjs's `name` and return it. */
export function spawn(name: string, args: unknown[] = []): Thread {
  return new Thread({ target: fixture(name), args }).start();
}

/** Join with a timeout and fail (instead of hanging) if the thread does not end. */
export async function finish<R = unknown>(t: Thread, timeout = 20_000): Promise<R> {
  if (!(await t.join({ timeout }))) throw new Error(`${t.name} did not end within ${timeout} ms`);
  return t.result as R;
}

/** Shared Int32 words (plain shared memory, not a conc primitive). */
export function sharedInts(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

/** Wait without blocking until `read()` returns `value`; throws after `timeout` ms. */
export async function until<T>(read: () => T, value: T, timeout = 10_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (read() !== value) {
    if (performance.now() > deadline) throw new Error(`never became ${String(value)} (is ${String(read())})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Let `ms` pass without blocking. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
