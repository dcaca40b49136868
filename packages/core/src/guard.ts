/**
 * Python's context managers (`with lock:`) for every acquire/release primitive:
 * a `using`-friendly guard and a callback form, written once here.
 */
import { TimeoutError } from './errors.js';
import type { WaitOptions } from './wait.js';

/** Released by `using`, by `release()`, or both (the second call does nothing). */
export interface Guard extends Disposable {
  release(): void;
}

/** What a primitive needs to offer to get the guard and callback forms. */
export interface AcquireRelease {
  acquire(options?: WaitOptions): Promise<boolean>;
  acquireSync(options?: Omit<WaitOptions, 'signal'>): boolean;
  release(): void;
}

function guardFor(target: AcquireRelease): Guard {
  let held = true;
  const release = () => {
    if (held) {
      held = false;
      target.release();
    }
  };
  return { release, [Symbol.dispose]: release };
}

function timedOut(target: object, options: WaitOptions | undefined): TimeoutError {
  return new TimeoutError(`${target.constructor.name}: not acquired within ${options?.timeout} ms`);
}

/**
 * Base class adding `guard`, `guardSync`, `withLock` and `withLockSync` to a
 * primitive that has `acquire`, `acquireSync` and `release`.
 */
export abstract class Acquirable implements AcquireRelease {
  abstract acquire(options?: WaitOptions): Promise<boolean>;
  abstract acquireSync(options?: Omit<WaitOptions, 'signal'>): boolean;
  abstract release(): void;

  /**
   * Acquire and return a guard that releases on dispose:
   * `using g = await lock.guard()`. Throws {@link TimeoutError} on timeout.
   */
  async guard(options?: WaitOptions): Promise<Guard> {
    if (!(await this.acquire(options))) throw timedOut(this, options);
    return guardFor(this);
  }

  /** Blocking {@link guard}: `using g = lock.guardSync()`. */
  guardSync(options?: Omit<WaitOptions, 'signal'>): Guard {
    if (!this.acquireSync(options)) throw timedOut(this, options);
    return guardFor(this);
  }

  /** Run `fn` while holding this primitive; release even if `fn` throws. */
  async withLock<R>(fn: () => R | Promise<R>, options?: WaitOptions): Promise<Awaited<R>> {
    checkFn(this, fn, 'withLock');
    if (!(await this.acquire(options))) throw timedOut(this, options);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /**
   * Blocking {@link withLock}; `fn` must be synchronous: it is released when
   * `fn` returns, so the rest of an async `fn` would run unprotected. An
   * async function is refused with TypeError before anything is acquired; a
   * function that returns a promise (or any thenable) is released and then
   * refused with TypeError. Use `withLock` for async work.
   */
  withLockSync<R>(fn: () => R, options?: Omit<WaitOptions, 'signal'>): R {
    checkFn(this, fn, 'withLockSync');
    const kind = Object.prototype.toString.call(fn);
    if (kind === '[object AsyncFunction]' || kind === '[object AsyncGeneratorFunction]') {
      throw new TypeError(
        `${this.constructor.name}.withLockSync: fn is an async function; it would run past the release at its first await (use withLock: await x.withLock(fn))`,
      );
    }
    if (!this.acquireSync(options)) throw timedOut(this, options);
    let result: R;
    try {
      result = fn();
    } finally {
      this.release();
    }
    if (
      result !== null &&
      (typeof result === 'object' || typeof result === 'function') &&
      typeof (result as any).then === 'function'
    ) {
      throw new TypeError(
        `${this.constructor.name}.withLockSync: fn returned a promise; it was released before the promise settled (use withLock for async work: await x.withLock(fn))`,
      );
    }
    return result;
  }
}

function checkFn(target: object, fn: unknown, method: string): void {
  if (typeof fn !== 'function') {
    throw new TypeError(
      `${target.constructor.name}.${method}: fn must be a function, got ${fn === null ? 'null' : typeof fn}`,
    );
  }
}
