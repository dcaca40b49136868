/** The error a broken Barrier throws (Python's `threading.BrokenBarrierError`). */
import { ConcRuntimeError, registerErrorClass } from '@conc/core';

/**
 * Thrown by `wait` / `waitSync` when the barrier is broken (by `abort()`, by
 * a wait that timed out or was aborted) or is reset while the thread waits.
 * A `ConcRuntimeError`, as Python's `BrokenBarrierError` is a `RuntimeError`.
 */
export class BrokenBarrierError extends ConcRuntimeError {
  override name = 'BrokenBarrierError';
}
registerErrorClass(BrokenBarrierError);
