/**
 * JoinableQueue: a Queue that counts unfinished tasks, as Python's
 * `queue.Queue` with `task_done()` / `join()` (multiprocessing's
 * JoinableQueue). How it crosses into a child process: process.ts.
 *
 * Words (layout.ts): DONE counts taskDone() calls and items dropped by an
 * immediate shutdown; JOIN_WAITERS counts threads parked in join.
 *
 * Algorithm and invariants:
 *   - unfinished = PUT_COUNT - DONE. It rises with the very store that makes
 *     an item visible (queue.ts), so a fast consumer's taskDone can never
 *     see an item early, and no section can leave it off by one.
 *   - taskDone: CAS DONE d -> d + 1, refused (ConcRuntimeError) when
 *     unfinished is already 0: it never goes below 0.
 *   - join waits on DONE: JOIN_WAITERS++, read DONE, re-check unfinished,
 *     park while DONE is unchanged. The taskDone that reaches 0 notifies
 *     every waiter of DONE when JOIN_WAITERS says any (seq-cst: either the
 *     waiter's re-check sees it, or it sees the waiter), as does an
 *     immediate shutdown, which counts each dropped item as done.
 */
import {
  ConcRuntimeError,
  type SyncWaitOptions,
  type WaitOptions,
  type WaitResult,
  checkSyncWaitOptions,
  deadlineOf,
  describeWords,
  refuseWait,
  registerShareable,
  throwIfAborted,
  waitAsync,
  waitSync,
  wake,
} from '@conc/core';
import { DONE, JOIN_WAITERS, PUT_COUNT } from './layout.js';
import { queueProcess } from './process.js';
import { Queue, setJoinableClass } from './queue.js';

/**
 * A {@link Queue} that counts unfinished tasks, as Python's `queue.Queue` with
 * `task_done()` / `join()` (multiprocessing's `JoinableQueue`): every put adds
 * one, every `taskDone()` removes one, and `join` waits until none is left.
 *
 * @example
 * const q = new JoinableQueue<string>();
 * // workers: for (;;) { const job = q.getSync(); work(job); q.taskDone(); }
 * for (const job of jobs) q.putSync(job);
 * await q.join(); // every job processed
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** How many items were put and not yet marked done with {@link taskDone}. */
  get unfinishedTasks(): number {
    return Math.max(0, this.unfinished());
  }

  /** PUT_COUNT - DONE: counted from the store that publishes an item (see the top). */
  private unfinished(): number {
    const w = this.words;
    const done = Atomics.load(w, DONE);
    return (Atomics.load(w, PUT_COUNT) - done) | 0;
  }

  /**
   * Mark one item taken with `get` as processed. Throws ConcRuntimeError if
   * called more times than items were put (Python's ValueError).
   */
  taskDone(): void {
    const w = this.words;
    for (;;) {
      const d = Atomics.load(w, DONE);
      const u = (Atomics.load(w, PUT_COUNT) - d) | 0;
      if (u <= 0) {
        throw new ConcRuntimeError(
          'JoinableQueue.taskDone: called more times than items were put (no unfinished task left)',
        );
      }
      if (Atomics.compareExchange(w, DONE, d, (d + 1) | 0) === d) {
        if (u === 1 && Atomics.load(w, JOIN_WAITERS) !== 0) wake(w, DONE);
        return;
      }
    }
  }

  /** @internal An immediate shutdown dropped `dropped` items (PUT_COUNT no longer moves: puts are refused): each counts as done. */
  protected override dropped(put: number, dropped: number): void {
    const w = this.words;
    for (;;) {
      const d = Atomics.load(w, DONE);
      const left = Math.max(0, ((put - d) | 0) - dropped);
      if (Atomics.compareExchange(w, DONE, d, (put - left) | 0) === d) break;
    }
    wake(w, DONE);
  }

  /**
   * Block the calling thread until every item put has been marked done.
   * `true`, or `false` if `timeout` ms pass first. On the main thread this blocks the event loop.
   */
  joinSync(options?: SyncWaitOptions): boolean {
    if (options !== undefined) checkSyncWaitOptions(options, 'JoinableQueue.joinSync');
    const w = this.words;
    if (this.unfinished() <= 0) return true;
    const deadline = deadlineOf(options?.timeout);
    for (;;) {
      Atomics.add(w, JOIN_WAITERS, 1);
      const d = Atomics.load(w, DONE);
      const r = this.unfinished() <= 0 ? 'ok' : waitSync(w, DONE, d, deadline);
      Atomics.sub(w, JOIN_WAITERS, 1);
      if (this.unfinished() <= 0) return true;
      if (r === 'timed-out') return false;
    }
  }

  /**
   * Wait without blocking until every item put has been marked done.
   * Resolves `true`, or `false` if `timeout` ms pass first; rejects with
   * `signal.reason` if aborted.
   */
  join(options?: WaitOptions): Promise<boolean> {
    const refused = refuseWait(options, 'JoinableQueue.join');
    if (refused) return refused;
    if (this.unfinished() <= 0) return Promise.resolve(true);
    return this.joinSlow(deadlineOf(options?.timeout), options?.signal);
  }

  private async joinSlow(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const w = this.words;
    for (;;) {
      Atomics.add(w, JOIN_WAITERS, 1);
      let r: WaitResult;
      try {
        const d = Atomics.load(w, DONE);
        r = this.unfinished() <= 0 ? 'ok' : await waitAsync(w, DONE, d, deadline, signal);
      } finally {
        Atomics.sub(w, JOIN_WAITERS, 1);
      }
      throwIfAborted(signal);
      if (this.unfinished() <= 0) return true;
      if (r === 'timed-out') return false;
    }
  }
}

setJoinableClass(JoinableQueue);

registerShareable(JoinableQueue, {
  tag: 'conc.JoinableQueue',
  module: import.meta.url,
  share: (q) => ({ words: describeWords(q.words) }),
  revive: (data) => Queue.revive(data) as JoinableQueue,
  process: queueProcess(true),
});
