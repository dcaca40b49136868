/**
 * The bootstrap every Thread runs in its worker: make output synchronous,
 * resolve the target, revive the args, run it, report the outcome.
 *
 * Order matters for the parent's joinSync: the outcome is posted on the
 * private port first, then the status word is set and notified, so a parent
 * woken by the status always finds the outcome waiting on the port.
 *
 * A failure nobody is joining (status word JOINERS is 0) is printed here, at
 * once, as Python's threading.excepthook does, unless the parent's realm has
 * a hook of its own (boot.hook): then the parent calls it (thread.ts).
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import {
  type Encoded,
  adoptLiveness,
  decode,
  encode,
  findUncloneable,
  loadModule,
  sleepSync,
  wordsView,
} from '@conc/core';
import { rebuildFunction } from '@conc/core/source';
import {
  type BootData,
  DIED,
  DONE,
  FAILED,
  JOINERS,
  RUNNING,
  type TargetSpec,
  exceptionText,
  importingTarget,
  serializeError,
} from './protocol.js';

const boot = workerData as BootData;
const status = wordsView(boot.status);
adoptLiveness(boot.liveness);

function finish(state: number): void {
  if (Atomics.compareExchange(status, 0, RUNNING, state) === RUNNING) Atomics.notify(status, 0);
}

// A worker's console output normally reaches the parent's stdout through the
// parent's event loop: late, out of order with the parent's own lines, and not
// at all while the parent blocks in joinSync. Write straight to the fds, as
// threads of one process do in every other language.
function writeAll(fd: number, chunk: unknown, encoding?: unknown): void {
  let buf =
    typeof chunk === 'string'
      ? Buffer.from(chunk, (encoding as BufferEncoding) || 'utf8')
      : Buffer.from(chunk as Uint8Array);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      sleepSync(1);
    }
  }
}
if (boot.directOutput) {
  for (const [stream, fd] of [
    [process.stdout, 1],
    [process.stderr, 2],
  ] as const) {
    stream.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
      writeAll(fd, chunk, typeof encoding === 'string' ? encoding : undefined);
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') process.nextTick(done as () => void);
      return true;
    }) as typeof stream.write;
  }
}

process.on('exit', (code) => {
  // Word [1]: the exit code, for a parent blocked in joinSync (it cannot get the 'exit' event).
  if (Atomics.load(status, 0) === RUNNING) Atomics.store(status, 1, code ?? 0);
  finish(DIED);
});

const sourceRequire = createRequire(`${process.cwd()}/`);

async function resolveTarget(target: TargetSpec): Promise<(...args: unknown[]) => unknown> {
  if (target.kind === 'source') {
    // With the helpers compilers put in functions (`__name`, `using`'s): see @conc/core's source.ts.
    return rebuildFunction(target.source, sourceRequire);
  }
  // Its top level runs now, in this thread: a start() there is refused (see refuseWhileImportingTarget).
  const mod = (await importingTarget({ in: 'thread', url: target.url, name: boot.name }, () =>
    loadModule(target.url),
  )) as Record<string, unknown>;
  const fn =
    target.export === 'default' && typeof mod.default !== 'function'
      ? (mod.default as any)?.default
      : mod[target.export];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new TypeError(
      `Thread target: module ${target.url} has no exported function "${target.export}"` +
        (names.length ? ` (its exported functions: ${names.join(', ')})` : ''),
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

/**
 * What the bootstrap is waiting for: the target (module import, args), then
 * the target's promise; undefined once the outcome is reported. If the
 * thread's event loop empties while it waits, nothing can settle it any more.
 */
let waitingFor: 'target' | 'promise' | undefined = 'target';

function fail(error: unknown): void {
  waitingFor = undefined;
  const data = serializeError(error);
  if (boot.target.kind === 'source' && data.name === 'ReferenceError') {
    data.message +=
      ' (a function target is sent to the thread as source text and cannot see variables of the scope it was written in:' +
      ' pass them in args, require/import them inside the function, or use { module, export })';
  }
  // Nobody joins and the parent has no hook of its own: print it now, from
  // this thread (Python's threading.excepthook), even if the parent is blocked.
  const printed = Atomics.load(status, JOINERS) === 0 && Atomics.load(boot.hook, 0) === 0;
  if (printed) process.stderr.write(exceptionText(boot.name, data));
  boot.port.postMessage({ ok: false, error: data, printed });
  finish(FAILED);
}

// A target whose promise never settles: the thread's event loop empties while
// it is pending. The thread ends, and join rejects saying why (a Process's
// child does the same, see @conc/process's child.ts).
process.on('beforeExit', () => {
  if (waitingFor === undefined) return;
  const why =
    waitingFor === 'promise'
      ? "the target's promise never settled"
      : `the target (module ${boot.target.kind === 'module' ? boot.target.url : 'source'} or its args) never finished loading`;
  fail(
    new Error(
      `Thread ${boot.name} exited with code ${process.exitCode ?? 0} before its target returned: ${why} (its event loop had nothing left to do while it was pending)`,
    ),
  );
});

async function main(): Promise<void> {
  try {
    const [fn, args] = await Promise.all([resolveTarget(boot.target), decode(boot.args)]);
    waitingFor = 'promise';
    const value = await fn(...(args as unknown[]));
    waitingFor = undefined;
    let encoded: Encoded | undefined;
    try {
      encoded = encode(value, 'thread', 'result');
      boot.port.postMessage({ ok: true, value: encoded });
    } catch (error) {
      const where = findUncloneable(encoded ? encoded.v : value, 'return value') ?? (error as Error).message;
      throw Object.assign(new Error(`Thread target's ${where}; a thread can only return structured-clonable values`), {
        name: 'DataCloneError',
      });
    }
    finish(DONE);
  } catch (error) {
    fail(error);
  }
}

void main();
