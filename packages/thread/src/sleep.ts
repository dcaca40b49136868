import { sleepSync } from '@conc/core';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Block the calling thread for `ms` milliseconds, as Python's `time.sleep`
 * (which takes seconds). On the main thread this blocks the event loop.
 */
export function sleep(ms: number): void {
  sleepSync(ms);
}

/** Wait `ms` milliseconds without blocking the thread. */
export function sleepAsync(ms: number, options?: { signal?: AbortSignal }): Promise<void> {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    return Promise.reject(new RangeError(`sleepAsync: ms must be a non-negative number, got ${String(ms)}`));
  }
  return delay(ms, undefined, options);
}
