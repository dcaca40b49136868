/**
 * How a Queue or JoinableQueue crosses into a child process (@conc/process):
 * the `process` section of its share spec (core's ProcessSpec), which
 * queue.ts and joinable.ts register. Also RESTORE, the put-back the broker
 * uses for an item a child did not take.
 */
import type { WaitOptions } from '@conc/core';
import { QueueEmpty, QueueFull, QueueShutDown } from './errors.js';
import type { JoinableQueue } from './joinable.js';
import type { Queue } from './queue.js';

/**
 * @internal For @conc/process's broker (which does not load this package):
 * `queue[RESTORE](item)` puts back an item it got for a consumer process that
 * did not take it. As `put`, except that a shutdown without `immediate` does
 * not refuse it; resolves false if an immediate shutdown dropped it.
 */
export const RESTORE = Symbol.for('conc.queue.restore.v1');

/** A queue's put-back (queue.ts implements it). */
interface Restorable {
  [RESTORE](item: unknown): Promise<boolean>;
}

/**
 * Into a child process (@conc/process), Python's feeder thread the model:
 * the owner's queue stays the one place items are. On an unbounded queue a
 * child's puts are sent ahead (`feed`: one frame per put, a refusal reported
 * by a later put; once it is known to be shut down every put throws at
 * once); a bounded queue's are calls (Python's exact QueueFull and timeout).
 * Gets move one item per round trip (`lend`): no item is fetched ahead, the
 * item is lent until the child acknowledges it, and what a dead child (or a
 * get that gave up) had not taken goes back at the tail, which a shutdown
 * without `immediate` does not refuse. A JoinableQueue counted each item
 * when it was first put: put back, it is counted again, so it is marked
 * done once; dropped, nobody else will, so it is marked done too.
 */
export function queueProcess(joinable: boolean) {
  const methods = ['put', 'putSync', 'putNowait', 'get', 'getSync', 'getNowait', 'qsize', 'empty', 'full', 'shutdown'];
  return {
    methods: joinable ? [...methods, 'taskDone', 'join', 'joinSync'] : methods,
    getters: joinable ? ['isShutDown', 'unfinishedTasks'] : ['isShutDown'],
    async: joinable ? ['put', 'get', 'join'] : ['put', 'get'],
    local: [Symbol.asyncIterator],
    describe: (q: Queue<unknown>) => ({ maxsize: q.maxsize, byteCapacity: q.byteCapacity }),
    requestBytes: (q: Queue<unknown>) => q.byteCapacity,
    feed: {
      methods: ['put', 'putSync', 'putNowait'],
      applies: (info: Record<string, unknown>) => !((info.maxsize as number) > 0),
      now(q: Queue<unknown>, item: unknown): boolean {
        try {
          q.putNowait(item);
          return true;
        } catch (error) {
          if (error instanceof QueueFull) return false;
          throw error;
        }
      },
      wait: (q: Queue<unknown>, item: unknown) => q.put(item),
      final: (error: unknown) => error instanceof QueueShutDown,
      closed(method: string, n?: number): Error {
        if (n === undefined) return new QueueShutDown(`${method}: the queue is shut down`);
        const items = `${n} item${n === 1 ? '' : 's'} put in this process ${n === 1 ? 'was' : 'were'}`;
        return new QueueShutDown(`${method}: the queue is shut down (${items} not enqueued)`);
      },
    },
    lend: {
      methods: ['get', 'getSync', 'getNowait'],
      now: (q: Queue<unknown>) => q.getNowait(),
      wait: (q: Queue<unknown>, options: WaitOptions) => q.get(options),
      restore(q: Queue<unknown>, item: unknown): void {
        let restoring: Promise<boolean>;
        try {
          restoring = (q as unknown as Restorable)[RESTORE](item);
        } catch (error) {
          restoring = Promise.reject(error);
        }
        void restoring
          .catch((error) => {
            process.stderr.write(
              `conc: could not put an item back in a ${q.names.label}: ${(error as Error).message}\n`,
            );
          })
          .finally(() => {
            if (!joinable) return;
            try {
              (q as JoinableQueue<unknown>).taskDone(); // its second count (put back), or its only one (dropped)
            } catch {
              // nothing unfinished: a child marked more done than it took
            }
          });
      },
      timedOut: (method: string, ms: number) => new QueueEmpty(`${method}: no item within ${ms} ms`),
    },
  };
}
