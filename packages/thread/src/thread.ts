/**
 * Thread: Python's `threading.Thread` on a worker_threads Worker.
 *
 * Lifecycle (one shared status word, see protocol.ts):
 *   new -> start() -> RUNNING -> DONE | FAILED | DIED
 *   The bootstrap posts the outcome on a private port, then sets the status
 *   and notifies. join / joinSync wait on the status word (spin then park,
 *   or waitAsync with a ref'd timer), then read the outcome with
 *   receiveMessageOnPort, so joinSync works while the event loop is blocked.
 *   If the worker dies without reporting (crash, process.exit in the target),
 *   its own exit hook or the parent's 'exit' listener sets DIED. A target
 *   whose promise never settles (the worker's event loop empties while it is
 *   pending) is reported as FAILED by the bootstrap ('beforeExit').
 *
 * Errors nobody joins (Python's threading.excepthook): each join / joinSync
 *   counts itself in the status words (JOINERS) while it waits. A failing
 *   bootstrap with no joiner prints "Exception in thread NAME:" and the stack
 *   itself, at once, unless this realm has a hook of its own (hookWord, set
 *   by setExcepthook); then the port's 'message' listener (unref'd) calls the
 *   hook, if still nobody joins. join rejects with the error either way.
 *
 * Bootstrapping: while a bootstrap imports a module target, a global flag
 *   (IMPORTING_TARGET, @conc/core/target) makes start() throw (target.ts,
 *   refuseWhileImportingTarget): the module's top level runs in every thread
 *   that imports it, and would start threads without end.
 *
 * Targets (checked by target.ts's targetSpec) cross the thread boundary in
 * one of two ways:
 *   - a function is sent as its source text and rebuilt in the worker: it must
 *     be self-contained (it sees its parameters, globals and `require`, not
 *     the variables of the scope it was written in);
 *   - `{ module, export }` is imported in the worker: the function keeps its
 *     module's imports. Use it for anything that needs them.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import {
  ConcRuntimeError,
  DataCloneError,
  type SyncWaitOptions,
  type WaitOptions,
  allocateLocalWords,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  decode,
  decodeSync,
  describeWords,
  type Encoded,
  encode,
  findUncloneable,
  prepareThreadWatch,
  throwIfAborted,
  waitAsync,
  waitSync,
  wake,
} from '@conc/core';
import { type TargetSpec, reviveError } from '@conc/core/target';
import {
  type BootData,
  DIED,
  DONE,
  EXIT_CODE,
  JOINERS,
  type Outcome,
  RUNNING,
  STATE,
  STATUS_WORDS,
  exceptionText,
} from './protocol.js';
import { type Target, refuseWhileImportingTarget, targetSpec } from './target.js';

/** Options of `new Thread(...)`, as Python's `threading.Thread(target, args, name, daemon)`. */
export interface ThreadOptions<A extends unknown[] = any[], R = unknown> {
  /** What the thread runs: a self-contained function, or `{ module, export }`. */
  target: Target<A, R>;
  /** Arguments for the target; conc primitives inside (nested too) arrive as their classes. */
  args?: NoInfer<A>;
  /** Defaults to `Thread-N (targetName)`, as Python. */
  name?: string;
  /** A daemon thread does not keep the process alive. Default false. */
  daemon?: boolean;
  /**
   * Write the thread's stdout/stderr straight to the process's file
   * descriptors (default true), so lines appear in the order they were
   * written, even while the parent thread blocks. Set false to route them
   * through the parent's `process.stdout` (e.g. when it is intercepted).
   */
  directOutput?: boolean;
}

let counter = 0;
const workerFile = fileURLToPath(new URL('./worker.cjs', import.meta.url));

/** What an excepthook receives, as Python's `threading.ExceptHookArgs`. */
export interface ExceptHookArgs {
  /** The error's name: `'RangeError'`, `'ValidationError'`... (Python's `exc_type`). */
  excType: string;
  /** The error, as `join` would reject with it (name, message and stack kept). */
  excValue: Error;
  /** The thread whose target threw. */
  thread: Thread;
}

/** Called with an error thrown in a thread that nobody is joining. */
export type ExceptHook = (args: ExceptHookArgs) => void;

// This realm's hook (undefined: the default, which the thread itself prints
// with; see worker.ts), and a word telling this realm's threads whether it
// has one of its own.
let excepthook: ExceptHook | undefined;
const hookWord = new Int32Array(new SharedArrayBuffer(4));

function defaultExcepthook(args: ExceptHookArgs): void {
  process.stderr.write(exceptionText(args.thread.name, args.excValue));
}

/**
 * Replace what happens to an error thrown in a thread that nobody is joining
 * when it arrives (Python's `threading.excepthook = fn`). By default it is
 * printed to stderr at once, `Exception in thread NAME:` and its stack, by the
 * thread itself (so even while this thread is blocked). A hook of your own
 * runs in this thread, on its event loop, with `{ excType, excValue, thread }`;
 * an error it throws is printed. `null` or `undefined` restores the default.
 * Threads started from this thread are concerned (each thread has its own
 * hook, as each has its own module instances). Either way `join` still
 * rejects with the error, and the process's exit code does not change (as in
 * Python). An error that arrives while a `join` / `joinSync` waits is that
 * call's, and is not passed to the hook.
 */
export function setExcepthook(fn: ExceptHook | null | undefined): void {
  if (fn !== null && fn !== undefined && typeof fn !== 'function') {
    throw new TypeError(`setExcepthook: fn must be a function, null or undefined, got ${typeof fn}`);
  }
  excepthook = fn ?? undefined;
  Atomics.store(hookWord, 0, excepthook ? 1 : 0);
}

function callExcepthook(thread: Thread, error: Error): void {
  const hook = excepthook ?? defaultExcepthook;
  try {
    hook({ excType: error.name, excValue: error, thread });
  } catch (hookError) {
    const e = hookError instanceof Error ? hookError : new Error(String(hookError));
    process.stderr.write(
      `Exception in the excepthook, handling an error of thread ${thread.name}:\n${e.stack ?? `${e.name}: ${e.message}`}\n`,
    );
  }
}

/**
 * A thread of control running in a worker thread, as Python's `threading.Thread`.
 *
 * @example
 * const t = new Thread({ target: (n: number) => n * 2, args: [21] });
 * t.start();
 * await t.join();
 * t.result; // 42
 */
export class Thread<A extends unknown[] = any[], R = unknown> {
  /** The thread's name (not unique). */
  name: string;
  private _daemon: boolean;
  private readonly spec: TargetSpec;
  private readonly args: A;
  private readonly directOutput: boolean;
  private worker: Worker | undefined;
  private _threadId: number | undefined;
  private status: Int32Array | undefined;
  private port: MessagePort | undefined;
  private outcome: Outcome | undefined;
  private death: Error | undefined;
  /** join / joinSync calls waiting now (also in the status words, for the thread to see). */
  private joining = 0;
  /** Settles on the Worker's 'exit' event, which carries why a thread died. */
  private exited: Promise<void> | undefined;
  private _result: Awaited<R> | undefined;

  constructor(options: ThreadOptions<A, R>) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('Thread: expected options { target, args?, name?, daemon? }');
    }
    this.spec = targetSpec(options.target, 'Thread');
    const args = options.args ?? ([] as unknown as A);
    if (!Array.isArray(args)) throw new TypeError(`Thread: args must be an array, got ${typeof args}`);
    this.args = args;
    counter += 1;
    const targetName = this.spec.kind === 'source' ? this.spec.name : this.spec.export;
    this.name = options.name ?? `Thread-${counter}${targetName ? ` (${targetName})` : ''}`;
    if (typeof this.name !== 'string') throw new TypeError('Thread: name must be a string');
    this._daemon = Boolean(options.daemon);
    this.directOutput = options.directOutput ?? true;
  }

  /** A daemon thread does not keep the process alive. Settable before start(). */
  get daemon(): boolean {
    return this._daemon;
  }
  set daemon(value: boolean) {
    if (this.worker) throw new ConcRuntimeError('Thread.daemon: cannot set daemon status of an active thread');
    this._daemon = Boolean(value);
  }

  /**
   * The worker's threadId once started (Python's `ident`), else undefined.
   * Kept after the thread ends (a Worker's own threadId turns -1 on exit).
   */
  get threadId(): number | undefined {
    return this._threadId;
  }

  /** What the target returned (awaited if a promise); undefined until joined successfully. */
  get result(): Awaited<R> | undefined {
    return this._result;
  }

  /**
   * Start the thread. Throws if called twice, if an argument cannot be sent,
   * or if called while a module is being imported as a thread's or child's
   * target (its top level runs there again; see the package README).
   */
  start(): this {
    if (this.worker)
      throw new ConcRuntimeError(`Thread.start: ${this.name} was already started (threads can only be started once)`);
    refuseWhileImportingTarget('Thread.start');
    const encoded = encode(this.args, 'thread', 'args');
    const status = allocateLocalWords(STATUS_WORDS); // see protocol.ts; local: the reaper reads it
    const { port1, port2 } = new MessageChannel();
    const watch = prepareThreadWatch();
    const boot: BootData = {
      target: this.spec,
      args: encoded,
      name: this.name,
      status: describeWords(status),
      hook: hookWord,
      port: port2,
      directOutput: this.directOutput,
      liveness: watch.boot,
    };
    let worker: Worker;
    try {
      worker = new Worker(workerFile, { workerData: boot, transferList: [port2, ...watch.transfer] });
    } catch (error) {
      port1.close();
      watch.cancel();
      if ((error as Error).name === 'DataCloneError') {
        const where = findUncloneable(encoded.v, 'args') ?? (error as Error).message;
        throw new DataCloneError(`Thread.start: ${where}`);
      }
      throw error;
    }
    this.worker = worker;
    this._threadId = worker.threadId;
    // Waiters on a Lock, RLock, Condition, ... this thread holds learn of its end from here.
    watch.watch(worker.threadId, {
      buffer: status.buffer as SharedArrayBuffer,
      index: status.byteOffset / 4,
      done: DONE,
    });
    this.status = status;
    this.port = port1;
    // The outcome, as soon as it arrives (joinSync takes it with
    // receiveMessageOnPort first if it is waiting). Unref'd: it must not keep
    // the process alive. A failure nobody joins and the thread did not print
    // goes to this realm's excepthook.
    port1.on('message', (outcome: Outcome) => {
      this.outcome ??= outcome;
      if (!outcome.ok && !outcome.printed && this.joining === 0) callExcepthook(this, reviveError(outcome.error));
    });
    port1.unref();
    worker.on('error', (error) => {
      // Uncaught outside the target's promise (a stray timer's throw): the worker is dying.
      if (!this.death && !this.outcome && this.joining === 0) callExcepthook(this, error);
      this.death ??= error;
    });
    let onExit!: () => void;
    this.exited = new Promise<void>((resolve) => (onExit = resolve));
    worker.on('exit', (code) => {
      this.death ??= new Error(`Thread ${this.name} exited with code ${code} before its target returned`);
      if (Atomics.compareExchange(status, STATE, RUNNING, DIED) === RUNNING) wake(status, STATE);
      onExit();
    });
    if (this._daemon) worker.unref();
    return this;
  }

  /** True from start() until the target has returned or thrown. */
  isAlive(): boolean {
    return this.status !== undefined && Atomics.load(this.status, STATE) === RUNNING;
  }

  private checkJoin(method: string): Int32Array {
    if (!this.status) throw new ConcRuntimeError(`Thread.${method}: cannot join ${this.name} before it is started`);
    return this.status;
  }

  /**
   * Wait until the thread ends. Resolves `true`, or `false` on timeout; rejects
   * with the target's error (name, message and stack kept) if it threw.
   */
  async join(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options, 'Thread.join');
    const status = this.checkJoin('join');
    const deadline = deadlineOf(options?.timeout);
    const signal = options?.signal;
    throwIfAborted(signal);
    if (Atomics.load(status, STATE) === RUNNING) {
      this.enterJoin(status);
      try {
        while (Atomics.load(status, STATE) === RUNNING) {
          const r = await waitAsync(status, STATE, RUNNING, deadline, signal);
          throwIfAborted(signal);
          if (r === 'timed-out') return false;
        }
      } finally {
        this.leaveJoin(status);
      }
    }
    const outcome = this.takeOutcome();
    if (!outcome && this.exited) {
      // Died without an outcome: the worker's own exit hook set DIED before the
      // parent heard why. Wait for the 'exit' event (holding the loop open, the
      // worker may be unref'd), so the rejection carries the error or exit code.
      const keepAlive = setTimeout(() => {}, 2 ** 31 - 1);
      await this.exited;
      clearTimeout(keepAlive);
    }
    if (outcome?.ok) this._result = (await decode(outcome.value as Encoded)) as Awaited<R>;
    return this.settle(outcome);
  }

  /** Block the calling thread until this thread ends; `false` on timeout; throws the target's error. */
  joinSync(options?: SyncWaitOptions): boolean {
    checkSyncWaitOptions(options, 'Thread.joinSync');
    const status = this.checkJoin('joinSync');
    const deadline = deadlineOf(options?.timeout);
    if (Atomics.load(status, STATE) === RUNNING) {
      this.enterJoin(status);
      try {
        while (Atomics.load(status, STATE) === RUNNING) {
          if (waitSync(status, STATE, RUNNING, deadline) === 'timed-out') return false;
        }
      } finally {
        this.leaveJoin(status);
      }
    }
    const outcome = this.takeOutcome();
    if (outcome?.ok) this._result = decodeSync(outcome.value as Encoded) as Awaited<R>;
    return this.settle(outcome);
  }

  /** A join starts waiting: an error arriving now is its to report, not the excepthook's. */
  private enterJoin(status: Int32Array): void {
    this.joining++;
    Atomics.add(status, JOINERS, 1);
  }

  private leaveJoin(status: Int32Array): void {
    this.joining--;
    Atomics.sub(status, JOINERS, 1);
  }

  private takeOutcome(): Outcome | undefined {
    if (!this.outcome && this.port) {
      const msg = receiveMessageOnPort(this.port);
      if (msg) this.outcome = msg.message as Outcome;
    }
    return this.outcome;
  }

  private settle(outcome: Outcome | undefined): boolean {
    if (outcome?.ok) return true;
    if (outcome) throw reviveError(outcome.error);
    if (this.death) throw this.death;
    const code = this.status ? Atomics.load(this.status, EXIT_CODE) : 0;
    throw new Error(`Thread ${this.name} exited with code ${code} before its target returned`);
  }

  toString(): string {
    const state = !this.status ? 'initial' : this.isAlive() ? 'started' : 'stopped';
    return `<Thread(${this.name}, ${state}${this._daemon ? ' daemon' : ''})>`;
  }
}
