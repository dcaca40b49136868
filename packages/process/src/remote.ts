/**
 * What @conc/process knows about particular classes, keyed by tag. The
 * bridge itself is generic (see client.ts and broker-worker.ts): a proxy
 * forwards every public method and getter of its class to the broker, which
 * calls the same method on the real primitive. This table adds only:
 *
 *   - local:  members composed of others, which must run on the proxy itself
 *             (Acquirable's guard/withLock are inherited and always local);
 *   - lockOf: for what a dead child may hold (Lock, RLock, Condition's
 *             lock), how to give it back;
 *   - permits: Semaphores, whose permits a dead child gives back;
 *   - queue:  Queue and JoinableQueue, whose puts are batched and whose gets
 *             prefetch (Python's feeder thread is the model), and whose items
 *             a dead child had not yet taken go back to the queue;
 *   - describe: extra facts the child needs (a queue's maxsize and
 *             byteCapacity, a Condition's lock, which is shared alongside).
 */
import { encode, shareTag } from '@conc/core';

export interface ClassRule {
  local?: readonly (string | symbol)[];
  /** Lock-like: the lock to release when a holder dies. */
  lockOf?: (obj: any) => any;
  permits?: boolean;
  queue?: { joinable: boolean };
  describe?: (obj: any) => Record<string, unknown>;
}

function queueInfo(q: any): Record<string, unknown> {
  return { maxsize: typeof q.maxsize === 'number' ? q.maxsize : 0, byteCapacity: q.byteCapacity };
}

export const rules: Record<string, ClassRule> = {
  'conc.Lock': { lockOf: (l) => l },
  'conc.RLock': { lockOf: (l) => l },
  'conc.Condition': {
    local: ['waitFor', 'waitForSync'],
    lockOf: (c) => c.lock,
    // The Condition's lock is shared with it, so the child's `cond.lock` is
    // a proxy of the same Lock/RLock (and `instanceof` holds).
    describe: (c) => ({ lock: encode(c.lock, 'process', 'Condition.lock') }),
  },
  'conc.Semaphore': { permits: true },
  'conc.BoundedSemaphore': { permits: true },
  'conc.Queue': { queue: { joinable: false }, local: [Symbol.asyncIterator], describe: queueInfo },
  'conc.JoinableQueue': { queue: { joinable: true }, local: [Symbol.asyncIterator], describe: queueInfo },
};

export function ruleOf(tag: string): ClassRule {
  return rules[tag] ?? {};
}

/** Parent side: the `info` of a reference. */
export function describeForChild(tag: string, value: unknown): Record<string, unknown> | undefined {
  return ruleOf(tag).describe?.(value);
}

/** Is `obj` an RLock (owned by a thread token) rather than a Lock? */
export function isOwnedLock(lock: unknown): boolean {
  return shareTag(lock) === 'conc.RLock';
}
