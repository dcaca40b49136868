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
import { memoryBackend } from './backend.js';
import { DataCloneError } from './errors.js';
import { importModule } from './target.js';
import { WALK_SKIP, WALK_STOP, walk, walkReplace } from './walk.js';
import type { Destination, Entry, RemoteRef, ShareSpec } from './share-spec.js';

export type {
  Destination,
  ProcessCall,
  ProcessFeed,
  ProcessHoldings,
  ProcessLend,
  ProcessSpec,
  RemoteRef,
  ShareSpec,
} from './share-spec.js';

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
    // The 'shm' backend: a primitive whose words are all in the arena crosses
    // as a thread does (its words are mapped by the child; no broker).
    if (memoryBackend().name === 'shm') {
      const data = entry.share(value, destination);
      if (mapsInAnyProcess(data)) return { tag, module: entry.module, data };
    }
    if (process.env.CONC_BROKER === '0') {
      const { name, reason } = memoryBackend();
      throw new DataCloneError(
        `${path} is a ${tag.replace(/^conc\./, '')} whose memory a child process cannot map (${name === 'shm' ? 'its words are not in the shared-memory arena' : `no shared memory: ${reason}`}), and the broker fallback is disabled (CONC_BROKER=0)`,
      );
    }
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
 * Whether a primitive's shared data can be revived in another process: it
 * holds no SharedArrayBuffer or view (thread-only memory), only arena words
 * (memory.ts) and plain values.
 */
function mapsInAnyProcess(data: unknown): boolean {
  let ok = true;
  walk(data, (v) => {
    if (v instanceof SharedArrayBuffer || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
      ok = false;
      return WALK_STOP;
    }
  });
  return ok;
}

/**
 * Encode `value` to cross into another thread or process: every registered
 * primitive inside it (arrays, plain objects, Maps and Sets are walked, see
 * walk.ts) is replaced by a placeholder and described in the table (see the
 * top of this file). Throws {@link DataCloneError} for functions and symbols; `path` names
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
  return importModule(url);
}

/** Import the modules of every entry in `encoded`'s table whose class is not registered yet. */
async function loadModulesFor(encoded: Encoded): Promise<void> {
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
