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
 * `encode(args)` walks arrays, plain objects, Maps and Sets and replaces every registered
 * instance with a marker `{ [MARK]: tag, module, data }`; everything else is
 * left for structured clone. On the other side `decode` imports each marker's
 * module (which registers the class there) and revives it.
 *
 * The registry lives on globalThis under a Symbol.for key, so the ESM and CJS
 * copies of @conc/core in one thread share it, and `instanceof` is answered by
 * a brand (also a Symbol.for key), so an instance revived from the ESM build is
 * an instance of the class imported from the CJS build too.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DataCloneError } from './errors.js';

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
}

interface Entry {
  tag: string;
  module: string;
  share(value: unknown, destination: Destination): unknown;
  revive(data: unknown): unknown;
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

/** Key of the marker object that stands for a primitive in encoded data. */
export const MARK = '__conc_shared__';
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

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Replace every registered primitive inside `value` (arrays and plain objects
 * are walked) with a marker. `path` names the value in error messages.
 */
export function encode(value: unknown, destination: Destination = 'thread', path = 'value'): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function') {
      throw new DataCloneError(
        `${path} is a function (${value.name || 'anonymous'}); functions cannot be sent to another ${destination}`,
      );
    }
    if (typeof value === 'symbol') {
      throw new DataCloneError(
        `${path} is a symbol (${String(value)}); symbols cannot be sent to another ${destination}`,
      );
    }
    return value;
  }
  const tag = shareTag(value);
  if (tag !== undefined) {
    const entry = registry.get(tag)!;
    const remote = (value as any)[REMOTE];
    if (typeof remote === 'function') {
      return { [MARK]: tag, module: entry.module, remote: remote.call(value, destination) };
    }
    if (destination === 'process') {
      const sharer = (globalThis as any)[processSharerKey] as ((value: unknown, entry: Entry) => unknown) | undefined;
      if (!sharer) {
        throw new DataCloneError(
          `${path} is a ${tag.replace(/^conc\./, '')}; to send it to a child process, start that process with @conc/process`,
        );
      }
      return { [MARK]: tag, module: entry.module, remote: sharer(value, entry) };
    }
    return { [MARK]: tag, module: entry.module, data: entry.share(value, destination) };
  }
  if (Array.isArray(value)) return value.map((v, i) => encode(v, destination, `${path}[${i}]`));
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [k, encode(v, destination, `${path}.get(${String(k)})`)]));
  }
  if (value instanceof Set) return new Set([...value].map((v, i) => encode(v, destination, `${path}.values()[${i}]`)));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      out[key] = encode((value as any)[key], destination, `${path}.${key}`);
    }
    return out;
  }
  return value;
}

function isMarker(value: unknown): value is { [MARK]: string; module: string; data?: unknown; remote?: RemoteRef } {
  return typeof value === 'object' && value !== null && typeof (value as any)[MARK] === 'string';
}

function collectModules(value: unknown, into: Map<string, string>): void {
  if (typeof value !== 'object' || value === null) return;
  if (isMarker(value)) {
    if (!registry.has(value[MARK])) into.set(value[MARK], value.module);
    const bridge = value.remote?.bridge;
    if (typeof bridge === 'string' && !(globalThis as any)[remoteReviverKey]) into.set(' bridge', bridge);
    return;
  }
  if (Array.isArray(value) || value instanceof Set) for (const v of value) collectModules(v, into);
  else if (value instanceof Map) for (const v of value.values()) collectModules(v, into);
  else if (isPlainObject(value)) for (const v of Object.values(value)) collectModules(v, into);
}

/** Load a module by URL the way it was built: `.cjs` with require, else import(). */
export async function loadModule(url: string): Promise<unknown> {
  if (url.endsWith('.cjs')) {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    return createRequire(path)(path);
  }
  return import(url);
}

/** Import the modules of every marker in `value` whose class is not registered yet. */
export async function loadModulesFor(value: unknown): Promise<void> {
  const modules = new Map<string, string>();
  collectModules(value, modules);
  await Promise.all([...modules.values()].map(loadModule));
}

/** Revive every marker in `value`; the classes must be registered (see {@link decode}). */
export function decodeSync(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isMarker(value)) {
    const entry = registry.get(value[MARK]);
    if (!entry) throw new Error(`conc: cannot revive ${value[MARK]}: its module ${value.module} is not loaded`);
    if (value.remote !== undefined) {
      const reviver = (globalThis as any)[remoteReviverKey] as
        | ((remote: RemoteRef, entry: Entry) => unknown)
        | undefined;
      if (!reviver) throw new Error(`conc: cannot revive a remote ${value[MARK]}: its bridge module is not loaded`);
      return reviver(value.remote, entry);
    }
    return entry.revive(value.data);
  }
  if (Array.isArray(value)) return value.map(decodeSync);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, decodeSync(v)]));
  if (value instanceof Set) return new Set([...value].map(decodeSync));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = decodeSync((value as any)[key]);
    return out;
  }
  return value;
}

/** Load what is needed and revive every marker in `value`. */
export async function decode(value: unknown): Promise<unknown> {
  await loadModulesFor(value);
  return decodeSync(value);
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
 * Used after a failed postMessage to name the bad argument.
 */
export function findUncloneable(value: unknown, path: string): string | undefined {
  try {
    structuredClone(value);
    return undefined;
  } catch (error) {
    if (typeof value === 'object' && value !== null) {
      const entries = Array.isArray(value)
        ? value.map((v, i) => [`${path}[${i}]`, v] as const)
        : isPlainObject(value)
          ? Object.keys(value).map((k) => [`${path}.${k}`, (value as any)[k]] as const)
          : [];
      for (const [p, v] of entries) {
        const found = findUncloneable(v, p);
        if (found) return found;
      }
    }
    return `${path}: ${(error as Error).message.replace(/\.$/, '')}`;
  }
}
