/**
 * What the parent and a thread's bootstrap exchange. The status word lives in
 * shared memory so that `joinSync` can block on it; the outcome travels on a
 * private MessagePort that the parent reads with receiveMessageOnPort.
 */
import type { MessagePort } from 'node:worker_threads';
import { type Encoded, type LivenessBoot, type SharedWords, errorClass } from '@conc/core';

export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;
/** The thread ended without reporting an outcome (process.exit, crash). */
export const DIED = 3;

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

export type Outcome = { ok: true; value: unknown } | { ok: false; error: SerializedError };

export interface BootData {
  target: TargetSpec;
  args: Encoded;
  name: string;
  status: SharedWords;
  port: MessagePort;
  directOutput: boolean;
  /** The process's thread-liveness table and reaper (core's liveness.ts). */
  liveness: LivenessBoot;
}

/** Turn a thrown value into {@link SerializedError} (name, message, stack, code). */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack, code: (error as any).code };
  }
  return { name: 'Error', message: `non-error thrown: ${String(error)}` };
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
