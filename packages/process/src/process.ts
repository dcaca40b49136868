/**
 * Process: Python's `multiprocessing.Process` on child_process.fork.
 *
 * Lifecycle:
 *   new -> start() -> running -> exited (exitCode set)
 *   start() forks dist/child.cjs (a tiny bootstrap) with stdio inherited, so
 *   the child's lines reach the same stdout as the parent's, in the order
 *   they were written. A module target's URL and the name (JSON) also go in
 *   argv (the child starts importing it at once, and a start() its top level
 *   makes is refused naming the Process); the boot message (target, encoded args,
 *   name, whether the child must watch for its parent itself) goes over the
 *   fork IPC channel ('advanced' serialization, so args are
 *   structured-cloned; plus the keys the child shows the brokers its
 *   references point to: a new one for ours, revoked once the child has
 *   exited, see broker.ts). The child is registered with the parent's
 *   watchdog (watchdog.ts), which kills it if the parent dies. The child reports
 *   only failure: it sends { k: 'error', e: {name, message, stack} } and
 *   exits with code 1.
 *   `join` waits for 'close' (exit seen and IPC channel closed, so an error
 *   report sent before exit is never missed).
 *
 * Invariants:
 *   - exitCode is null while running; afterwards the exit status, or minus
 *     the signal number if a signal ended the child (Python's convention: -9
 *     for SIGKILL).
 *   - Primitives in args are turned into references to this process's
 *     broker by core's encode(args, 'process') (see broker.ts); no
 *     SharedArrayBuffer ever crosses (they cannot), anything else that
 *     structured clone refuses is refused here, at start(), naming the
 *     argument.
 *   - Targets: a function travels as its source text (self-contained), or
 *     `{ module, export }` is imported in the child (use it for anything that
 *     needs its module's imports), exactly as for Thread.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';
import {
  ConcRuntimeError,
  DataCloneError,
  type LongTimeout,
  type WaitOptions,
  checkWaitOptions,
  type Encoded,
  deadlineOf,
  encode,
  findUncloneable,
  remaining,
  setLongTimeout,
  throwIfAborted,
  walk,
} from '@conc/core';
import { type SerializedError, type Target, refuseWhileImportingTarget, reviveError, targetSpec } from '@conc/thread';
import { installProcessSharer, keysForChild, sharedSockets } from './broker.js';
import { forgetChild, watchChild } from './watchdog.js';

export interface ProcessOptions<A extends unknown[] = any[]> {
  /** What the child runs: a self-contained function, or `{ module, export }`. */
  target: Target<A>;
  /** Arguments for the target; conc primitives inside (nested too) arrive as proxies of their classes. */
  args?: A;
  /** Defaults to `Process-N`, as Python. */
  name?: string;
}

/** What the child's bootstrap receives first over IPC. */
export interface ChildBoot {
  k: 'boot';
  target: ReturnType<typeof targetSpec>;
  args: Encoded;
  name: string;
  /** No watchdog watches this child (see watchdog.ts): it must watch for its parent's death itself. */
  watch: boolean;
  /** Socket -> hex key: what the child shows the brokers its references point to (broker.ts). Only ever sent here, over IPC. */
  keys?: Record<string, string>;
}

let counter = 0;
const childFile = fileURLToPath(new URL('./child.cjs', import.meta.url));

installProcessSharer();

/**
 * Refuse what cannot cross a process boundary, naming the argument and why
 * (core's walk: arrays, Maps, Sets, and objects of any class by their keys;
 * nothing inside an ArrayBuffer view is looked at).
 */
function checkCrossable(value: unknown, path: string): void {
  walk(
    value,
    (v, at) => {
      if (v instanceof SharedArrayBuffer) {
        throw new DataCloneError(
          `Process.start: ${at.path()} is a SharedArrayBuffer; processes share no memory, so it cannot be sent to a child process (pass a conc primitive such as a Queue, or copy the data)`,
        );
      }
      if (ArrayBuffer.isView(v) && v.buffer instanceof SharedArrayBuffer) {
        throw new DataCloneError(
          `Process.start: ${at.path()} is a ${v.constructor.name} over a SharedArrayBuffer; processes share no memory, so it cannot be sent to a child process (pass a conc primitive such as a Queue, or copy it with .slice())`,
        );
      }
    },
    { path, objects: 'all' },
  );
}

/**
 * A process running a target in a forked Node.js child, as Python's
 * `multiprocessing.Process`. conc primitives passed in `args` keep working
 * in the child: they are served by this process (see the package README).
 *
 * @example
 * const p = new Process({ target: { module: import.meta.url, export: 'task' }, args: ['1'] });
 * p.start();
 * await p.join();
 * p.exitCode; // 0
 */
export class Process<A extends unknown[] = any[]> {
  /**
   * The process's name (not unique), passed to the child as `process.title`-free
   * metadata (in its argv too for a module target, so `ps` shows it).
   */
  name: string;
  private readonly spec: ReturnType<typeof targetSpec>;
  private readonly args: A;
  private child: ChildProcess | undefined;
  private _exitCode: number | null = null;
  private closed = false;
  private error: SerializedError | undefined;
  private spawnError: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(options: ProcessOptions<A>) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('Process: expected options { target, args?, name? }');
    }
    this.spec = targetSpec(options.target, 'Process');
    const args = options.args ?? ([] as unknown as A);
    if (!Array.isArray(args)) throw new TypeError(`Process: args must be an array, got ${typeof args}`);
    this.args = args;
    counter += 1;
    this.name = options.name ?? `Process-${counter}`;
    if (typeof this.name !== 'string') throw new TypeError('Process: name must be a string');
  }

  /** The child's process id once started, else undefined. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * null while the child runs (or before start); then its exit code, or the
   * negative signal number if a signal ended it (-9 for SIGKILL, -15 for SIGTERM).
   */
  get exitCode(): number | null {
    return this._exitCode;
  }

  /** Start the child. Throws if called twice, or if an argument cannot be sent to a process. */
  start(): this {
    if (this.child) {
      throw new ConcRuntimeError(
        `Process.start: ${this.name} was already started (a process can only be started once)`,
      );
    }
    refuseWhileImportingTarget('Process.start');
    checkCrossable(this.args, 'args');
    const [encoded, sockets] = sharedSockets(() => encode(this.args, 'process', 'args'));
    try {
      serialize(encoded);
    } catch (error) {
      const where = findUncloneable(encoded.v, 'args') ?? (error as Error).message;
      throw new DataCloneError(
        `Process.start: ${where}; only structured-clonable values and conc primitives can be sent to a child process`,
      );
    }
    const { keys, revoke } = keysForChild(sockets);
    const boot: ChildBoot = { k: 'boot', target: this.spec, args: encoded, name: this.name, watch: true };
    if (keys) boot.keys = keys;
    // A module target's URL also goes in argv, so the child starts importing it
    // before the boot message is read (the import overlaps the IPC hop); so
    // does the name, JSON-quoted (argv takes no NUL), for a start() that the
    // import's top level runs before the boot message is read (Node 22, 24).
    const argv = this.spec.kind === 'module' ? [this.spec.url, JSON.stringify(this.name)] : [];
    let child: ChildProcess;
    try {
      child = fork(childFile, argv, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    } catch (error) {
      revoke();
      throw error;
    }
    this.child = child;
    const pid = child.pid;
    boot.watch = !watchChild(pid);
    child.on('message', (m: any) => {
      if (m && m.k === 'error') this.error = m.e;
    });
    child.on('error', (error) => {
      this.spawnError ??= error;
    });
    child.on('exit', (code, signal) => {
      forgetChild(pid);
      this._exitCode = code ?? (signal ? -((constants.signals as Record<string, number>)[signal] ?? 1) : -1);
    });
    child.on('close', () => {
      revoke(); // its connections are closed or closing; nobody else uses its key
      this.closed = true;
      if (this._exitCode === null) this._exitCode = child.exitCode ?? -1;
      for (const w of this.waiters) w();
      this.waiters.clear();
    });
    child.send(boot, (error) => {
      if (error) this.spawnError ??= error;
    });
    return this;
  }

  /** True from start() until the child has exited. */
  isAlive(): boolean {
    return this.child !== undefined && !this.closed && this._exitCode === null;
  }

  /**
   * Wait until the child ends. Resolves `true` (then `exitCode` is set), or
   * `false` on timeout. Rejects with the target's error (name, message and
   * stack from the child, plus `exitCode`) if the target threw.
   */
  async join(options?: WaitOptions): Promise<boolean> {
    checkWaitOptions(options, 'Process.join');
    if (!this.child) throw new ConcRuntimeError(`Process.join: cannot join ${this.name} before it is started`);
    const deadline = deadlineOf(options?.timeout);
    const signal = options?.signal;
    throwIfAborted(signal);
    if (!this.closed) {
      const ended = await new Promise<boolean>((resolve, reject) => {
        let timer: LongTimeout | undefined;
        const done = (value: boolean) => {
          timer?.clear();
          signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(onClose);
          resolve(value);
        };
        const onClose = () => done(true);
        const onAbort = () => {
          done(false);
          reject(signal!.reason);
        };
        this.waiters.add(onClose);
        signal?.addEventListener('abort', onAbort, { once: true });
        const left = remaining(deadline);
        if (left !== Number.POSITIVE_INFINITY) timer = setLongTimeout(() => done(false), left);
      });
      throwIfAborted(signal);
      if (!ended) return false;
    }
    if (this.error) {
      const error = reviveError(this.error);
      Object.defineProperty(error, 'exitCode', { value: this._exitCode, enumerable: true, configurable: true });
      throw error;
    }
    if (this.spawnError && this._exitCode !== 0) throw this.spawnError;
    return true;
  }

  private signalChild(method: string, sig: NodeJS.Signals): void {
    if (!this.child) throw new ConcRuntimeError(`Process.${method}: ${this.name} was never started`);
    if (!this.isAlive()) return;
    this.child.kill(sig);
  }

  /** Ask the child to stop (SIGTERM), as Python's `terminate()`. Throws if never started. */
  terminate(): void {
    this.signalChild('terminate', 'SIGTERM');
  }

  /** Kill the child (SIGKILL), as Python's `kill()`. Throws if never started. */
  kill(): void {
    this.signalChild('kill', 'SIGKILL');
  }

  toString(): string {
    const state = !this.child ? 'initial' : this.isAlive() ? 'started' : `stopped exitcode=${this._exitCode}`;
    return `<Process name='${this.name}' ${state}>`;
  }
}
