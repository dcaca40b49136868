/**
 * What the parent and a thread's bootstrap exchange. The status word lives in
 * shared memory so that `joinSync` can block on it; the outcome travels on a
 * private MessagePort that the parent reads with receiveMessageOnPort.
 * What a bootstrap does alike in a thread and a child process (resolving the
 * target, errors across the boundary) is core's target toolkit
 * (`@conc/core/target`).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Encoded, LivenessBoot, SharedWords } from '@conc/core';
import type { SerializedError, TargetSpec } from '@conc/core/target';

export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;
/** The thread ended without reporting an outcome (process.exit, crash). */
export const DIED = 3;

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
