/**
 * The target toolkit: what a Thread's worker bootstrap (@conc/thread's
 * worker.ts) and a Process's child bootstrap (@conc/process's child.ts) do
 * alike, written once. Published as `@conc/core/target`.
 *
 *   - A target arrives as a {@link TargetSpec} (thread.ts's targetSpec makes
 *     it): source text, rebuilt with `new Function` (see source.ts), or a
 *     module URL and export name. {@link resolveTarget} turns it into the
 *     function; each bootstrap passes its own loader (a Thread loads `file:`
 *     modules only, a child any specifier import() takes).
 *   - While a bootstrap imports a module target, {@link IMPORTING_TARGET} is
 *     set on globalThis ({@link importingTarget}): the module's top level runs
 *     there, and a start() it makes is refused (thread.ts,
 *     refuseWhileImportingTarget), or it would start children without end.
 *   - An error crosses as a {@link SerializedError} (name, message, stack,
 *     code): {@link serializeError} never throws, whatever was thrown, and
 *     {@link reviveError} rebuilds it as conc's registered class of that name,
 *     or the global one (TypeError...), else an Error with the name kept.
 *     A function target's ReferenceError gets a hint ({@link sourceHint}),
 *     and a target whose event loop empties while it is pending fails with
 *     the same words in both ({@link unsettledMessage}).
 *
 * This file imports nothing of core but source.ts (the registry of error
 * classes is read through its global key), so that a child's bundled
 * bootstrap, which loads nothing it does not need, stays small.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { rebuildFunction } from './source.js';

/** A checked target, as a bootstrap receives it. */
export type TargetSpec =
  | { kind: 'source'; source: string; name: string }
  | { kind: 'module'; url: string; export: string };

/** An error as it crosses a thread or process boundary. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  /** Own enumerable properties whose values are scalars (@conc/process's peerError). */
  props?: Record<string, string | number | boolean | bigint | null>;
}

/**
 * Set (on globalThis, so that every copy of conc in the realm sees it: ESM
 * and CJS builds, a thread's bundled bootstrap, a child's) while a thread's
 * or child's bootstrap imports a module target.
 */
export const IMPORTING_TARGET: unique symbol = Symbol.for('conc.importingTarget.v1') as never;

/** What {@link IMPORTING_TARGET} holds. */
export interface ImportingTarget {
  /** Who imports it: a worker thread (Thread) or a child process (Process). */
  in: 'thread' | 'process';
  /** The module's URL. */
  url: string;
  /** The Thread's or Process's name, if known. */
  name?: string;
}

/**
 * Run `load` (the import of a module target) with {@link IMPORTING_TARGET}
 * set to `what`; it is set before `load` is called, and cleared when it
 * settles (unless something else was set meanwhile).
 */
export async function importingTarget<T>(what: ImportingTarget, load: () => Promise<T>): Promise<T> {
  const g = globalThis as Record<symbol, unknown>;
  g[IMPORTING_TARGET] = what;
  try {
    return await load();
  } finally {
    if (g[IMPORTING_TARGET] === what) g[IMPORTING_TARGET] = undefined;
  }
}

/** Import a module: `.cjs` with require (a `file:` URL or a path), anything else with import(). */
export async function importModule(url: string): Promise<unknown> {
  if (url.endsWith('.cjs')) {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    return createRequire(path)(path);
  }
  return import(url);
}

/**
 * The function a target names: source rebuilt (with the helpers compilers
 * put in functions, see source.ts), or the module's export (`default` also
 * finds a CJS module's `default.default`). `who` (`Thread`, `Process`)
 * opens the error thrown when the module has no such function.
 */
export async function resolveTarget(
  target: TargetSpec,
  who: string,
  load: (url: string) => Promise<unknown>,
): Promise<(...args: unknown[]) => unknown> {
  if (target.kind === 'source') return rebuildFunction(target.source, createRequire(`${process.cwd()}/`));
  const mod = (await load(target.url)) as Record<string, unknown>;
  const fn =
    target.export === 'default' && typeof mod.default !== 'function'
      ? (mod.default as any)?.default
      : mod[target.export];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new TypeError(
      `${who} target: module ${target.url} has no exported function "${target.export}"` +
        (names.length ? ` (its exported functions: ${names.join(', ')})` : ''),
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

/**
 * Turn a thrown value into {@link SerializedError} (name, message, stack, code).
 * A value that is not an Error (a string, a number, undefined,
 * `Object.create(null)`...) becomes an Error whose message says so and shows
 * the value as `util.inspect` does. Never throws, whatever was thrown.
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    try {
      const { name, message, stack } = error;
      const code = (error as { code?: unknown }).code;
      return {
        name: typeof name === 'string' ? name : 'Error',
        message: typeof message === 'string' ? message : describeThrown(message),
        stack: typeof stack === 'string' ? stack : undefined,
        // Only a code that can cross (a string or number, as Node's error codes are).
        code: typeof code === 'string' || typeof code === 'number' ? code : undefined,
      };
    } catch {
      // a getter threw: describe it as any other value
    }
  }
  return { name: 'Error', message: `a non-Error value was thrown: ${describeThrown(error)}` };
}

/** A thrown value as `util.inspect` shows it (at most 500 characters), or its type if even that fails. */
function describeThrown(value: unknown): string {
  try {
    const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
  } catch {
    return `a value of type ${typeof value}`;
  }
}

/** Rebuild an error thrown in another thread or process, keeping name, message, stack, code and props. */
export function reviveError(data: SerializedError): Error {
  // conc's own error classes, registered by errors.ts's registerErrorClass
  // (read through the global key, so that this file needs no more of core).
  const registered = (globalThis as any)[Symbol.for('conc.errorClasses.v1')]?.get(data.name);
  const Ctor = registered ?? (globalThis as any)[data.name];
  const error: Error =
    typeof Ctor === 'function' && Ctor.prototype instanceof Error ? new Ctor(data.message) : new Error(data.message);
  if (error.name !== data.name)
    Object.defineProperty(error, 'name', { value: data.name, configurable: true, writable: true });
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) (error as any).code = data.code;
  if (data.props) {
    for (const [k, v] of Object.entries(data.props)) {
      if (!(k in error))
        Object.defineProperty(error, k, { value: v, enumerable: true, configurable: true, writable: true });
    }
  }
  return error;
}

/** Add to a function target's ReferenceError why it happens (it cannot see its scope) and what to do. */
export function sourceHint(data: SerializedError, target: TargetSpec, to: 'thread' | 'process'): void {
  if (target.kind !== 'source' || data.name !== 'ReferenceError') return;
  data.message +=
    ` (a function target is sent to the ${to} as source text and cannot see variables of the scope it was written in:` +
    ' pass them in args, require/import them inside the function, or use { module, export })';
}

/**
 * The message of the error a target fails with when its event loop empties
 * while the bootstrap waits for it (`waiting`: the target to load, or its
 * promise): nothing can settle it any more. `who`: `Thread NAME`, `Process NAME`.
 */
export function unsettledMessage(
  who: string,
  exitCode: number | string,
  waiting: 'target' | 'promise',
  target: TargetSpec,
): string {
  const why =
    waiting === 'promise'
      ? "the target's promise never settled"
      : `the target (module ${target.kind === 'module' ? target.url : 'source'} or its args) never finished loading`;
  return `${who} exited with code ${exitCode} before its target returned: ${why} (its event loop had nothing left to do while it was pending)`;
}
