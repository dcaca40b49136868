/**
 * What the parent and a thread's bootstrap exchange. The status word lives in
 * shared memory so that `joinSync` can block on it; the outcome travels on a
 * private MessagePort that the parent reads with receiveMessageOnPort.
 */
import { inspect } from 'node:util';
import type { MessagePort } from 'node:worker_threads';
import { type Encoded, type LivenessBoot, type SharedWords, errorClass } from '@conc/core';

export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;
/** The thread ended without reporting an outcome (process.exit, crash). */
export const DIED = 3;

/**
 * @internal Set (on globalThis, so that every copy of conc in the realm sees
 * it: ESM and CJS builds, a thread's bundled bootstrap, a child's) while a
 * thread's or child's bootstrap imports a module target. `start()` refuses to
 * run then (see thread.ts, refuseWhileImportingTarget).
 */
export const IMPORTING_TARGET = Symbol.for('conc.importingTarget.v1');

/** @internal What {@link IMPORTING_TARGET} holds. */
export interface ImportingTarget {
  /** Who imports it: a worker thread (Thread) or a child process (Process). */
  in: 'thread' | 'process';
  /** The module's URL. */
  url: string;
  /** The Thread's or Process's name, if known. */
  name?: string;
}

/** @internal Run `load` (the import of a module target) with {@link IMPORTING_TARGET} set. */
export async function importingTarget<T>(what: ImportingTarget, load: () => Promise<T>): Promise<T> {
  const g = globalThis as Record<symbol, unknown>;
  g[IMPORTING_TARGET] = what;
  try {
    return await load();
  } finally {
    if (g[IMPORTING_TARGET] === what) g[IMPORTING_TARGET] = undefined;
  }
}

/** @internal A checked target, as the bootstrap receives it. */
export type TargetSpec =
  | { kind: 'source'; source: string; name: string }
  | { kind: 'module'; url: string; export: string };

/** An error as it crosses a thread or process boundary. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
}

/**
 * The status words (`BootData.status`): [0] the state below, [1] the exit
 * code if the thread died, [2] how many join / joinSync calls of the parent
 * are waiting (an error that arrives while one waits is theirs, not the
 * excepthook's).
 */
export const STATE = 0;
export const EXIT_CODE = 1;
export const JOINERS = 2;
export const STATUS_WORDS = 3;

/**
 * The outcome the bootstrap posts. A failure says whether the thread already
 * printed it (the default excepthook, when nobody was joining and the parent
 * had no hook of its own); if not, and nobody joins, the parent calls its hook.
 */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: SerializedError; printed: boolean };

/** The default excepthook's text, as Python's: `Exception in thread NAME:` and the stack. */
export function exceptionText(threadName: string, error: { name: string; message: string; stack?: string }): string {
  return `Exception in thread ${threadName}:\n${error.stack ?? `${error.name}: ${error.message}`}\n`;
}

export interface BootData {
  target: TargetSpec;
  args: Encoded;
  name: string;
  status: SharedWords;
  /** [0]: 1 while the parent's realm has an excepthook of its own (setExcepthook): the thread prints nothing then. */
  hook: Int32Array;
  port: MessagePort;
  directOutput: boolean;
  /** The process's thread-liveness table and reaper (core's liveness.ts). */
  liveness: LivenessBoot;
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
export function describeThrown(value: unknown): string {
  try {
    const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
  } catch {
    return `a value of type ${typeof value}`;
  }
}

/** Rebuild an error thrown in another thread or process, keeping name, message and stack. */
export function reviveError(data: SerializedError): Error {
  const Ctor = errorClass(data.name) ?? (globalThis as any)[data.name];
  const error: Error =
    typeof Ctor === 'function' && Ctor.prototype instanceof Error ? new Ctor(data.message) : new Error(data.message);
  if (error.name !== data.name)
    Object.defineProperty(error, 'name', { value: data.name, configurable: true, writable: true });
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) (error as any).code = data.code;
  return error;
}
