/**
 * Timers for any finite delay. One setTimeout honours at most 2^31 - 1 ms
 * (about 24.8 days): Node fires a longer one after 1 ms, with a warning.
 * So every place where a user's timeout becomes a timer goes through
 * setLongTimeout, which chains setTimeouts of at most that length toward an
 * absolute deadline (performance.now() ms), re-reading the clock at each
 * link: the callback runs once, when the whole delay has passed.
 * (Atomics.wait and Atomics.waitAsync take any timeout, Infinity included.)
 */

/** The longest delay one setTimeout honours: 2^31 - 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer from {@link setLongTimeout}: cleared with `clear()`; `unref()` lets the process exit while it is pending. */
export interface LongTimeout {
  clear(): void;
  ref(): LongTimeout;
  unref(): LongTimeout;
  hasRef(): boolean;
}

class Single implements LongTimeout {
  constructor(private readonly handle: NodeJS.Timeout) {}

  clear(): void {
    clearTimeout(this.handle);
  }

  ref(): LongTimeout {
    this.handle.ref();
    return this;
  }

  unref(): LongTimeout {
    this.handle.unref();
    return this;
  }

  hasRef(): boolean {
    return this.handle.hasRef();
  }
}

class Chained implements LongTimeout {
  private handle: NodeJS.Timeout | undefined;
  private refed = true;

  constructor(
    private readonly fn: () => void,
    private readonly deadline: number,
    ms: number,
  ) {
    this.arm(ms);
  }

  private arm(left: number): void {
    this.handle = setTimeout(this.tick, Math.min(Math.max(left, 1), MAX_TIMER_MS));
    if (!this.refed) this.handle.unref();
  }

  private tick = (): void => {
    const left = this.deadline - performance.now();
    if (left > 0) this.arm(left);
    else {
      this.handle = undefined;
      this.fn();
    }
  };

  clear(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
  }

  ref(): LongTimeout {
    this.refed = true;
    this.handle?.ref();
    return this;
  }

  unref(): LongTimeout {
    this.refed = false;
    this.handle?.unref();
    return this;
  }

  hasRef(): boolean {
    return this.handle !== undefined && this.refed;
  }
}

/**
 * Call `fn` once after `ms` milliseconds, however large `ms` is (Infinity:
 * never, while holding the event loop open like any ref'd timer). A delay
 * up to {@link MAX_TIMER_MS} is one setTimeout; a longer one is a chain.
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`setLongTimeout: ms must be a non-negative number, got ${String(ms)}`);
  }
  if (ms <= MAX_TIMER_MS) return new Single(setTimeout(fn, ms));
  return new Chained(fn, performance.now() + ms, ms);
}
