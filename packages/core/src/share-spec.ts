/**
 * The types of the share registry (share.ts): what a class declares when it
 * registers itself ({@link ShareSpec}: how it crosses into a thread, and its
 * {@link ProcessSpec} section: how it crosses into a child process), and what
 * the registry keeps of it. Types only: no code runs here.
 */

/** Where a shared value is going: a thread of this process, or a child process. */
export type Destination = 'thread' | 'process';

/** How a class crosses into another thread: see {@link registerShareable}. */
export interface ShareSpec<T> {
  /** Unique, stable name, e.g. `conc.Lock`. */
  tag: string;
  /** URL of the module that registers the class; imported on the other side. */
  module: string;
  /** Turn an instance into structured-clonable data (SharedArrayBuffers allowed for threads). */
  share(value: T, destination: Destination): unknown;
  /** Build an instance from what `share` returned. */
  revive(data: any): T;
  /** How it crosses into a child process (served by @conc/process); without it a child can call nothing. */
  process?: ProcessSpec<T>;
}

/**
 * How a primitive is served to child processes by @conc/process, which knows
 * no primitive by name: a child holds a proxy whose public methods and
 * getters are forwarded to the owner's broker thread, which runs them on the
 * real primitive and calls the hooks below. The broker refuses any name not
 * listed (TypeScript-private methods, Object.prototype's names, raw fields).
 *
 * The hooks run in the broker (the owner's process), on the real primitive.
 * `onCall` keeps the books of what a child's process holds; `onDeath` gives
 * it back when the child is gone (exit, throw, SIGKILL). A call that
 * completes after the child is gone (`holdings.gone`) must undo itself in
 * `onCall`: the child never learnt of it.
 */
export interface ProcessSpec<T> {
  /** Public methods a child may call (an `xSync` listed along with its `x`). */
  methods: readonly string[];
  /** Public getters a child may read. */
  getters?: readonly string[];
  /**
   * Methods that return a Promise: the `x` of an x / xSync pair (the broker,
   * which never blocks, runs `x` for a child's `xSync`; options are the last
   * parameter, a signal in them is the child's abort). An async function not
   * listed is async too.
   */
  async?: readonly string[];
  /** Members composed of others, run on the proxy itself (Acquirable's guard/withLock always are). */
  local?: readonly (string | symbol)[];
  /** Parent side: own properties of the child's proxy (encode a primitive in them, as a Condition's lock). */
  describe?(value: T): Record<string, unknown>;
  /** The largest item (bytes) a child may send it in one request (a queue's byteCapacity); default a few MiB. */
  requestBytes?(value: T): number;
  /** Broker: a call of a child's (phases: see {@link ProcessCall}); record what its process holds now. */
  onCall?(value: T, call: ProcessCall, holdings: ProcessHoldings): void;
  /** Broker: the child's process is gone; give back what it holds (its calls are aborted and settled first). */
  onDeath?(value: T, holdings: ProcessHoldings): void;
  /** Calls sent ahead, without waiting for a reply (a queue's puts): see {@link ProcessFeed}. */
  feed?: ProcessFeed<T>;
  /** Calls that take one item out, lent until the child acknowledges it (a queue's gets): {@link ProcessLend}. */
  lend?: ProcessLend<T>;
}

/**
 * One call of a child, as the broker sees it. `waiting`: an async call has
 * started and not settled; `done`: it returned or resolved `result`;
 * `failed`: it threw or rejected (`aborted`: by the child's abort or its
 * death). The same object goes through every phase of one call (`note` is
 * the hook's own, from one phase to the next).
 */
export interface ProcessCall {
  readonly name: string;
  phase: 'waiting' | 'done' | 'failed';
  result?: unknown;
  aborted?: boolean;
  note?: unknown;
}

/** What a hook knows of the child's process (its connection to the broker). */
export interface ProcessHoldings {
  /** The child's process is gone (its connection closed). */
  readonly gone: boolean;
  /** The token the call ran as (one per child thread: an RLock's owner). */
  readonly token: number;
  /** The tokens of every thread of the child's process that called. */
  readonly tokens: Iterable<number>;
  /** Run `fn` as `token` (an RLock's release for a thread of the child). */
  as<R>(token: number, fn: () => R): R;
  /** Broker-wide books: this process holds `value` now (a Lock, identified by its words). */
  hold(value: object): void;
  /** Whoever held `value`, nobody does now (any process may release a Lock). */
  drop(value: object): void;
  /** If this process holds `value`, it does not any more; returns whether it did. */
  letGo(value: object): boolean;
  /** Does this process hold `value`? */
  holds(value: object): boolean;
  /** Does any process hold `value`? */
  held(value: object): boolean;
  /** Run the `onCall` hook of `value`'s own class for this call (a Condition's lock). */
  forward(value: object, call: ProcessCall): void;
  /** Run the `onDeath` hook of `value`'s own class. */
  forwardDeath(value: object): void;
}

/**
 * Calls sent ahead (Python's feeder thread): a child's `methods` post their
 * first argument (the item) at once, one frame each, and return without a
 * reply; a refusal comes back with a later call. The broker puts each in
 * with `now`, and, when `now` says there is no room, the rest with `wait`,
 * holding the calling thread's later requests until they are in.
 */
export interface ProcessFeed<T> {
  /** The methods that are sent ahead (async, xSync and the no-wait one); others of the class are calls. */
  methods: readonly string[];
  /** Child: whether this instance's are sent ahead (from `describe`'s facts); otherwise they are calls. */
  applies?(info: Record<string, unknown>): boolean;
  /** Broker: put `item` in now; false: no room. Throws a refusal. */
  now(value: T, item: unknown): boolean;
  /** Broker: put `item` in, waiting for room. */
  wait(value: T, item: unknown): Promise<unknown>;
  /** A refusal after which every later item is refused too (shut down). */
  final?(error: unknown): boolean;
  /** Child: the error `method` throws once a final refusal is known; `dropped`: items of this process refused by it. */
  closed?(method: string, dropped?: number): Error;
}

/**
 * Calls that take one item each (a queue's gets), one round trip per item:
 * no item is fetched ahead. The item is lent: booked for the calling thread
 * until the child acknowledges it as taken; an item a dead child (or a
 * get that gave up) had not taken goes back with `restore`.
 */
export interface ProcessLend<T> {
  /** The async method, its xSync, and the one that does not wait. */
  methods: readonly string[];
  /** Broker: take an item now; throws if there is none. */
  now(value: T): unknown;
  /** Broker: take an item, waiting with the child's options (and the broker's signal). */
  wait(value: T, options: Record<string, unknown>): Promise<unknown>;
  /** Broker: give back an item taken and not delivered (at the tail; a shutdown without immediate does not refuse it). */
  restore(value: T, item: unknown): void;
  /** Child: the error of an async take that timed out. */
  timedOut(method: string, ms: number): Error;
}

/** A registered class: its spec and the class itself. */
export interface Entry {
  tag: string;
  module: string;
  share(value: unknown, destination: Destination): unknown;
  revive(data: unknown): unknown;
  process?: ProcessSpec<any>;
  /** The registered class (its prototype is what @conc/process's proxies inherit from). */
  cls?: Function;
}

/**
 * Reference to a primitive served by another process (see @conc/process).
 * Plain structured-clonable data; `bridge` is the URL of the module that
 * installs the reviver turning it into a proxy on the receiving side.
 */
export interface RemoteRef {
  bridge: string;
  [key: string]: unknown;
}
