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
import { workerData } from 'node:worker_threads';
import {
  type Encoded,
  adoptLiveness,
  decode,
  encode,
  findUncloneable,
  loadModule,
  sleepSync,
  wake,
  wordsView,
} from '@conc/core';
import { importingTarget, resolveTarget, serializeError, sourceHint, unsettledMessage } from '@conc/core/target';
import { type BootData, DIED, DONE, EXIT_CODE, FAILED, JOINERS, RUNNING, STATE, exceptionText } from './protocol.js';

const boot = workerData as BootData;
const status = wordsView(boot.status);
adoptLiveness(boot.liveness);

function finish(state: number): void {
  if (Atomics.compareExchange(status, STATE, RUNNING, state) === RUNNING) wake(status, STATE);
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
  if (Atomics.load(status, STATE) === RUNNING) Atomics.store(status, EXIT_CODE, code ?? 0);
  finish(DIED);
});

// Its top level runs in this thread: a start() there is refused (see refuseWhileImportingTarget).
const loadTarget = (url: string) => importingTarget({ in: 'thread', url, name: boot.name }, () => loadModule(url));

/**
 * What the bootstrap is waiting for: the target (module import, args), then
 * the target's promise; undefined once the outcome is reported. If the
 * thread's event loop empties while it waits, nothing can settle it any more.
 */
let waitingFor: 'target' | 'promise' | undefined = 'target';

function fail(error: unknown): void {
  waitingFor = undefined;
  const data = serializeError(error);
  sourceHint(data, boot.target, 'thread');
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
  fail(new Error(unsettledMessage(`Thread ${boot.name}`, process.exitCode ?? 0, waitingFor, boot.target)));
});

async function main(): Promise<void> {
  try {
    const [fn, args] = await Promise.all([resolveTarget(boot.target, 'Thread', loadTarget), decode(boot.args)]);
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
