import { checkSleep, sleepSync } from '@conc/core';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Block the calling thread for `ms` milliseconds, as Python's `time.sleep`
 * (which takes seconds). On the main thread this blocks the event loop.
 * TypeError if `ms` is not a number, RangeError if it is negative or NaN.
 */
export function sleep(ms: number): void {
  sleepSync(ms);
}

/** Wait `ms` milliseconds without blocking the thread. Rejects as {@link sleep} throws on a bad `ms`. */
export function sleepAsync(ms: number, options?: { signal?: AbortSignal }): Promise<void> {
  try {
    checkSleep(ms, 'sleepAsync');
  } catch (error) {
    return Promise.reject(error);
  }
  return delay(ms, undefined, options);
}
