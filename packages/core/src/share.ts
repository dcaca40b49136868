/**
 * The share/revive protocol: how a primitive crosses into another thread (or,
 * through @conc/process, another process) and arrives as the same class.
 *
 * A primitive class registers itself once, at module load:
 *
 *     registerShareable(Lock, {
 *       tag: 'conc.Lock',          // unique name, same in every copy of the package
 *       module: import.meta.url,   // file that registers the class (ESM or CJS build)
 *       share: (lock) => ({ words: describeWords(lock.words) }),
 *       revive: (data) => Lock.revive(data),
 *     });
 *
 * `encode(value)` returns an {@link Encoded}: `{ __conc_encoded__: 1, v, s }`.
 * `v` is a copy of the value in which every registered instance is replaced by
 * a fresh empty object, its placeholder; `s` is the table conc itself wrote:
 * one entry per distinct instance, with the placeholder, the class's tag, the
 * module that registers it and its shared data. Structured clone (postMessage,
 * v8.serialize) keeps object identity inside one message, so on the other side
 * the placeholder found in `v` is the very object in `s`, and `decode` revives
 * exactly the objects that are placeholders of the table, nothing else.
 *
 * Invariants (the security model of DESIGN.md: data is never code):
 *   - What is imported or revived is decided by the table only, never by the
 *     shape of the data: a user value that looks like any encoding conc has
 *     (marker keys, a fake table) is an ordinary object in `v` and comes back
 *     as the plain data it is. Identity cannot be forged by data.
 *   - Only `file:` module URLs are ever loaded (the modules of conc's own
 *     packages); a `data:`, `http:` or other URL is refused.
 *   - Shared references and cycles are kept, as structured clone keeps them:
 *     the copy is memoized by identity, so `[o, o]` arrives as one object twice
 *     and `[lock, lock]` as one Lock twice.
 *   - A value with no registered instance in it is not copied (`v` is the
 *     value itself; structured clone copies it anyway).
 *   - `decode` is called only on what `encode` returned (the transport knows
 *     which field is encoded); given anything else it throws a TypeError.
 *
 * The registry lives on globalThis under a Symbol.for key, so the ESM and CJS
 * copies of @conc/core in one thread share it, and `instanceof` is answered by
 * a brand (also a Symbol.for key), so an instance revived from the ESM build is
 * an instance of the class imported from the CJS build too.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DataCloneError } from './errors.js';
import { WALK_SKIP, WALK_STOP, isPlainObject, walk, walkReplace } from './walk.js';

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

interface Entry {
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

/**
 * A proxy for a primitive served by another process carries a function under
 * this key; `encode` calls it (with the destination) instead of the class's
 * `share`, and the marker carries the returned {@link RemoteRef} as `remote`.
 */
export const REMOTE: unique symbol = Symbol.for('conc.remote.v1') as never;

/** Brand symbol carried by every registered class's prototype. */
export const BRAND: unique symbol = Symbol.for('conc.brand') as never;

const registryKey = Symbol.for('conc.registry.v1');
const registry: Map<string, Entry> = ((globalThis as any)[registryKey] ??= new Map());

// A process-wide hook @conc/process installs to share primitives with child
// processes (they cannot receive SharedArrayBuffers).
const processSharerKey = Symbol.for('conc.processSharer.v1');
// ... and the hook that turns a `remote` marker back into a proxy.
const remoteReviverKey = Symbol.for('conc.remoteReviver.v1');

type Ctor<T> = abstract new (...args: any[]) => T;

/**
 * Register a class with the share/revive protocol and brand it so `instanceof`
 * works across the ESM and CJS builds of its package.
 */
export function registerShareable<T extends object>(cls: Ctor<T>, spec: ShareSpec<T>): void {
  (cls.prototype as any)[BRAND] = spec.tag;
  Object.defineProperty(cls, Symbol.hasInstance, {
    configurable: true,
    value(this: Function, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      // Walk the prototype chain for the brand, so an instance of a subclass
      // (JoinableQueue of Queue) from either build of the package matches too.
      if (typeof value !== 'object' || value === null) return false;
      for (let p = Object.getPrototypeOf(value); p !== null; p = Object.getPrototypeOf(p)) {
        if (Object.hasOwn(p, BRAND) && p[BRAND] === spec.tag) return true;
      }
      return false;
    },
  });
  if (!registry.has(spec.tag)) registry.set(spec.tag, { ...(spec as Entry), cls });
}

/** The registered tag of a value, or undefined if it is not a shareable primitive. */
export function shareTag(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const tag = (value as any)[BRAND];
  return typeof tag === 'string' && registry.has(tag) ? tag : undefined;
}

/** Key that marks the object {@link encode} returns. */
const ENCODED = '__conc_encoded__';

/** One entry of an {@link Encoded}'s table: a registered instance, by its placeholder. */
interface SharedRef {
  /** The placeholder: the empty object that stands for the instance in `v`. */
  p: object;
  tag: string;
  module: string;
  data?: unknown;
  remote?: RemoteRef;
}

/** What {@link encode} returns and {@link decode} takes: structured-clonable. */
export interface Encoded {
  readonly [ENCODED]: 1;
  /** The value, each registered instance replaced by its placeholder. */
  readonly v: unknown;
  /** The instances, by placeholder; absent when there are none. */
  readonly s?: SharedRef[];
}

/** Whether `value` is an {@link Encoded} (its shape: the transport says whether it may be one). */
export function isEncoded(value: unknown): value is Encoded {
  return typeof value === 'object' && value !== null && (value as any)[ENCODED] === 1 && 'v' in value;
}

/**
 * Walk arrays, plain objects, Maps and Sets of `value` once (cycles followed
 * once): throw a {@link DataCloneError} naming the first function or symbol,
 * and say whether a registered instance is inside.
 */
function scan(value: unknown, destination: Destination, path: string): boolean {
  let found = false;
  walk(
    value,
    (v, at) => {
      if (typeof v === 'function') {
        throw new DataCloneError(
          `${at.path()} is a function (${v.name || 'anonymous'}); functions cannot be sent to another ${destination}`,
        );
      }
      if (typeof v === 'symbol') {
        throw new DataCloneError(
          `${at.path()} is a symbol (${String(v)}); symbols cannot be sent to another ${destination}`,
        );
      }
      if (shareTag(v) === undefined) return;
      found = true;
      return WALK_SKIP;
    },
    { path },
  );
  return found;
}

/** Copy the walked containers of `value` (memoized: shared references and cycles kept), instances to placeholders. */
function copy(value: unknown, destination: Destination, path: string, table: SharedRef[]): unknown {
  return walk(
    value,
    (v, at) => {
      const tag = shareTag(v);
      if (tag === undefined) return;
      const p = {};
      table.push({ p, ...shareOne(v as object, tag, destination, at.path()) });
      return walkReplace(p);
    },
    { path, copy: true },
  );
}

/** The table entry (less its placeholder) of one registered instance. */
function shareOne(value: object, tag: string, destination: Destination, path: string): Omit<SharedRef, 'p'> {
  const entry = registry.get(tag)!;
  const remote = (value as any)[REMOTE];
  if (typeof remote === 'function') {
    return { tag, module: entry.module, remote: remote.call(value, destination) };
  }
  if (destination === 'process') {
    const sharer = (globalThis as any)[processSharerKey] as ((value: unknown, entry: Entry) => RemoteRef) | undefined;
    if (!sharer) {
      throw new DataCloneError(
        `${path} is a ${tag.replace(/^conc\./, '')}; to send it to a child process, start that process with @conc/process`,
      );
    }
    return { tag, module: entry.module, remote: sharer(value, entry) };
  }
  return { tag, module: entry.module, data: entry.share(value, destination) };
}

/**
 * Encode `value` to cross into another thread or process: every registered
 * primitive inside it (arrays, plain objects, Maps and Sets are walked) is
 * replaced by a placeholder and described in the table (see the top of this
 * file). Throws {@link DataCloneError} for functions and symbols; `path` names
 * the value in error messages. Pass the result to {@link decode} there.
 */
export function encode(value: unknown, destination: Destination = 'thread', path = 'value'): Encoded {
  if (!scan(value, destination, path)) return { [ENCODED]: 1, v: value };
  const table: SharedRef[] = [];
  const v = copy(value, destination, path, table);
  return { [ENCODED]: 1, v, s: table };
}

function checkEncoded(value: unknown): Encoded {
  if (!isEncoded(value)) {
    throw new TypeError('conc: decode() takes what encode() returned; this value was not encoded by conc');
  }
  return value;
}

/** Load a module by URL the way it was built: `.cjs` with require, else import(). Only `file:` URLs. */
export async function loadModule(url: string): Promise<unknown> {
  if (typeof url !== 'string' || !url.startsWith('file:')) {
    throw new TypeError(
      `conc: refusing to load ${String(url).slice(0, 80)}: only file: modules of conc packages are loaded`,
    );
  }
  if (url.endsWith('.cjs')) return createRequire(fileURLToPath(url))(fileURLToPath(url));
  return import(url);
}

/** Import the modules of every entry in `encoded`'s table whose class is not registered yet. */
export async function loadModulesFor(encoded: Encoded): Promise<void> {
  const modules = new Set<string>();
  for (const ref of checkEncoded(encoded).s ?? []) {
    if (!registry.has(ref.tag)) modules.add(ref.module);
    const bridge = ref.remote?.bridge;
    if (typeof bridge === 'string' && !(globalThis as any)[remoteReviverKey]) modules.add(bridge);
  }
  await Promise.all([...modules].map(loadModule));
}

function reviveOne(ref: SharedRef): unknown {
  const entry = registry.get(ref.tag);
  if (!entry) throw new Error(`conc: cannot revive ${ref.tag}: its module ${ref.module} is not loaded`);
  if (ref.remote !== undefined) {
    const reviver = (globalThis as any)[remoteReviverKey] as ((remote: RemoteRef, entry: Entry) => unknown) | undefined;
    if (!reviver) throw new Error(`conc: cannot revive a remote ${ref.tag}: its bridge module is not loaded`);
    return reviver(ref.remote, entry);
  }
  return entry.revive(ref.data);
}

/** Revive every instance of `encoded`'s table; their classes must be registered (see {@link decode}). */
export function decodeSync(encoded: Encoded): unknown {
  const { v, s } = checkEncoded(encoded);
  if (!s || s.length === 0) return v;
  const revived = new Map<object, unknown>();
  for (const ref of s) revived.set(ref.p, reviveOne(ref));
  // The placeholders, replaced in place (v is the receiver's own copy).
  return walk(v, (x) =>
    typeof x === 'object' && x !== null && revived.has(x) ? walkReplace(revived.get(x)) : undefined,
  );
}

/** Load what is needed and revive every instance in `encoded`. */
export async function decode(encoded: Encoded): Promise<unknown> {
  await loadModulesFor(encoded);
  return decodeSync(encoded);
}

/** A registered class: its spec and the class itself. */
export type ShareEntry = Entry;

/** Look up a registered class entry by tag (used by @conc/process's bridge). */
export function registeredEntry(tag: string): Entry | undefined {
  return registry.get(tag);
}

/**
 * Install the process sharer (used by @conc/process only): it turns a
 * primitive bound for a child process into a {@link RemoteRef}.
 */
export function setProcessSharer(sharer: (value: unknown, entry: Entry) => RemoteRef): void {
  (globalThis as any)[processSharerKey] = sharer;
}

/** Install the reviver of `remote` markers in the calling thread (used by @conc/process only). */
export function setRemoteReviver(reviver: (remote: RemoteRef, entry: Entry) => unknown): void {
  (globalThis as any)[remoteReviverKey] = reviver;
}

/**
 * Find the first part of `value` that structured clone refuses and say where.
 * Used after a failed postMessage to name the bad argument. Looks into the
 * arrays and plain objects that fail, down to the first failing part with
 * no failing part inside (a Map or Set that fails is named whole).
 */
export function findUncloneable(value: unknown, path: string): string | undefined {
  let found: string | undefined;
  walk(
    value,
    (v, at) => {
      try {
        structuredClone(v);
        return WALK_SKIP;
      } catch (error) {
        found = `${at.path()}: ${(error as Error).message.replace(/\.$/, '')}`;
        const inside = typeof v === 'object' && v !== null && (Array.isArray(v) || isPlainObject(v));
        return inside ? undefined : WALK_STOP;
      }
    },
    // Left: nothing inside it failed, so it is the one.
    { path, leave: () => WALK_STOP },
  );
  return found;
}
