/**
 * What @conc/process knows about particular classes, keyed by tag. The
 * bridge itself is generic (see client.ts and broker-worker.ts): a proxy
 * forwards the public methods and getters of its class to the broker, which
 * calls the same method on the real primitive. This table says:
 *
 *   - methods, getters: the public API, the only names a child may call or
 *             read (an `xSync` is listed along with its `x`). The broker
 *             refuses anything else (TypeScript-private and @internal
 *             methods, Object.prototype's names, raw fields such as
 *             `words`) with a TypeError and no effect. Plain lists, so
 *             that they can move into each primitive's package; a class
 *             with no rule here may declare its lists in its
 *             registerShareable spec (`process: { methods, getters }`),
 *             else it serves nothing;
 *   - local:  members composed of others, which must run on the proxy itself
 *             (Acquirable's guard/withLock are inherited and always local);
 *   - lockOf: for what a dead child may hold (Lock, RLock, Condition's
 *             lock), how to give it back;
 *   - relocks: methods that let go of that lock and take it back before
 *             they settle (Condition's wait): a waiter is not a holder;
 *   - permits: Semaphores: permits are not owned (a dead child's stay
 *             taken), but one an acquire got after its child died is given back;
 *   - queue:  Queue and JoinableQueue, whose puts are sent as they are made
 *             and whose gets move one item each (Python's feeder thread is
 *             the model), and whose items a dead child had not yet taken
 *             go back to the queue;
 *   - describe: extra facts the child needs (a queue's maxsize and
 *             byteCapacity, a Condition's lock, which is shared alongside).
 */
import { encode, registeredEntry, shareTag } from '@conc/core';

export interface ClassRule {
  /** Public methods a child may call. */
  methods: readonly string[];
  /** Public getters a child may read. */
  getters?: readonly string[];
  local?: readonly (string | symbol)[];
  /** Lock-like: the lock to release when a holder dies. */
  lockOf?: (obj: any) => any;
  /** Methods that let go of the lock of `lockOf` and take it back before they settle. */
  relocks?: readonly string[];
  permits?: boolean;
  queue?: { joinable: boolean };
  describe?: (obj: any) => Record<string, unknown>;
}

function queueInfo(q: any): Record<string, unknown> {
  return { maxsize: typeof q.maxsize === 'number' ? q.maxsize : 0, byteCapacity: q.byteCapacity };
}

export const rules: Record<string, ClassRule> = {
  'conc.Lock': {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release'],
    getters: ['locked', 'abandoned'],
    local: ['toString'],
    lockOf: (l) => l,
  },
  'conc.RLock': {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release', 'isOwned'],
    getters: ['locked', 'abandoned', 'recursionLevel'],
    lockOf: (l) => l,
  },
  'conc.Condition': {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release', 'wait', 'waitSync', 'notify', 'notifyAll'],
    local: ['waitFor', 'waitForSync'],
    lockOf: (c) => c.lock,
    relocks: ['wait'],
    // The Condition's lock is shared with it, so the child's `cond.lock` is
    // a proxy of the same Lock/RLock (and `instanceof` holds).
    describe: (c) => ({ lock: encode(c.lock, 'process', 'Condition.lock') }),
  },
  'conc.Semaphore': {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release'],
    getters: ['value'],
    local: ['toString'],
    permits: true,
  },
  'conc.BoundedSemaphore': {
    methods: ['acquire', 'acquireSync', 'tryAcquire', 'release'],
    getters: ['value', 'initialValue'],
    local: ['toString'],
    permits: true,
  },
  'conc.Event': {
    methods: ['isSet', 'set', 'clear', 'wait', 'waitSync'],
    local: ['toString'],
  },
  'conc.Barrier': {
    methods: ['wait', 'waitSync', 'reset', 'abort'],
    getters: ['parties', 'timeout', 'nWaiting', 'broken'],
  },
  'conc.Queue': {
    methods: ['put', 'putSync', 'putNowait', 'get', 'getSync', 'getNowait', 'qsize', 'empty', 'full', 'shutdown'],
    getters: ['isShutDown'],
    queue: { joinable: false },
    local: [Symbol.asyncIterator],
    describe: queueInfo,
  },
  'conc.JoinableQueue': {
    methods: [
      'put',
      'putSync',
      'putNowait',
      'get',
      'getSync',
      'getNowait',
      'qsize',
      'empty',
      'full',
      'shutdown',
      'taskDone',
      'join',
      'joinSync',
    ],
    getters: ['isShutDown', 'unfinishedTasks'],
    queue: { joinable: true },
    local: [Symbol.asyncIterator],
    describe: queueInfo,
  },
};

const NONE: ClassRule = { methods: [] };

/**
 * A class of another package (or the user's) declares its public API for
 * processes in its registerShareable spec: `process: { methods, getters }`
 * (plain lists of names, as above); without it, a process can call nothing.
 */
const declared = new Map<string, ClassRule>();

function declaredRule(tag: string): ClassRule | undefined {
  let rule = declared.get(tag);
  if (rule) return rule;
  const spec = (registeredEntry(tag) as { process?: { methods?: unknown; getters?: unknown } } | undefined)?.process;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const names = (list: unknown) =>
    Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string' && n !== 'constructor') : [];
  rule = { methods: names(spec.methods), getters: names(spec.getters) };
  declared.set(tag, rule);
  return rule;
}

export function ruleOf(tag: string): ClassRule {
  if (Object.hasOwn(rules, tag)) return rules[tag];
  return declaredRule(tag) ?? NONE;
}

/** May a child call `name` on a primitive of this class? (own lists only: no prototype lookups) */
export function isPublicMethod(rule: ClassRule, name: string): boolean {
  return rule.methods.includes(name);
}

/** May a child read `name`? */
export function isPublicGetter(rule: ClassRule, name: string): boolean {
  return rule.getters?.includes(name) === true;
}

/** Parent side: the `info` of a reference. */
export function describeForChild(tag: string, value: unknown): Record<string, unknown> | undefined {
  return ruleOf(tag).describe?.(value);
}

/** Is `obj` an RLock (owned by a thread token) rather than a Lock? */
export function isOwnedLock(lock: unknown): boolean {
  return shareTag(lock) === 'conc.RLock';
}
