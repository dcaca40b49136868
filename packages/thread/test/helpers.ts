import type { Thread } from '@conc/thread';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** Join with a timeout and fail (instead of hanging) if the thread does not end. */
export async function finish<R = unknown>(t: Thread, timeout = 15_000): Promise<R> {
  if (!(await t.join({ timeout }))) throw new Error(`${t.name} did not end within ${timeout} ms`);
  return t.result as R;
}

/** The rejection of a promise (fails if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** What a function throws (fails if it returns). */
export function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw, but the call returned');
}

/** Shared Int32 words. */
export function sharedInts(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}
