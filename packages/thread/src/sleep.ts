import { checkSleep, setLongTimeout, sleepSync } from '@conc/core';

/**
 * Block the calling thread for `ms` milliseconds, as Python's `time.sleep`
 * (which takes seconds). On the main thread this blocks the event loop.
 * TypeError if `ms` is not a number, RangeError if it is negative or NaN.
 */
export function sleep(ms: number): void {
  sleepSync(ms);
}

/**
 * Wait `ms` milliseconds (any finite delay, however large) without blocking
 * the thread. Rejects as {@link sleep} throws on a bad `ms`; an aborted
 * signal rejects with its reason.
 */
export function sleepAsync(ms: number, options?: { signal?: AbortSignal }): Promise<void> {
  try {
    checkSleep(ms, 'sleepAsync');
  } catch (error) {
    return Promise.reject(error);
  }
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    return Promise.reject(
      new TypeError(`sleepAsync: options must be an object like { signal }, got ${String(options)}`),
    );
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return Promise.reject(new TypeError('sleepAsync: options.signal must be an AbortSignal'));
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.clear();
      reject(signal!.reason);
    };
    const timer = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
