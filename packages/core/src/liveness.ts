/**
 * Which threads of this process have ended, and how: what a waiter reads to
 * tell a holder that died from one that is merely slow (DESIGN.md, "Death").
 *
 * A blocked thread cannot receive a Worker's 'exit' event (its event loop is
 * not running), so the news has to be in shared memory. The pieces:
 *
 *   - The table: 2 x 8192 Int32 words in a SharedArrayBuffer, one per process,
 *     handed to every conc thread in its boot data. Slot k = (token - 1) % 8192
 *     holds [2k] the token of the last thread of that slot that ended, and
 *     [2k+1] 1 if it died (did not return from its target: killed,
 *     terminated, process.exit(), an uncaught error) or 0 if it returned.
 *   - The reaper: one small worker thread per process that never runs user
 *     code, so its event loop always turns. For every conc thread, the thread
 *     that starts it makes a MessageChannel, gives one end (the life port) to
 *     the new thread, which keeps it for its whole life, and sends the other
 *     end to the reaper. When a thread ends in any way, Node closes its ports,
 *     the reaper's end emits 'close', and the reaper writes the slot (the died
 *     flag first, from the thread's status word, then the token).
 *   - Nested threads: each thread also gets a registration port to the reaper,
 *     so the threads it starts are watched by the same reaper and table.
 *
 * Invariants:
 *   - threadEnded(t) is true only after thread t has ended (its ports close
 *     only then); it becomes true within a few ms of the end while the
 *     reaper's loop turns, whatever the waiters are doing.
 *   - A slot is reused by the thread 8192 thread starts later; readers compare
 *     the token, so a live thread is never reported ended. (A dead thread's
 *     entry can be overwritten once that later thread ends too: a holder dead
 *     for over 8192 thread lifetimes may go undetected.)
 *   - Tokens <= 0 (threads of other processes, served by @conc/process) are
 *     never reported here: their deaths are the business of their carrier.
 *   - Threads not started by conc (a raw `new Worker`) are not watched.
 *
 * The tick (onLivenessTick): a blocking waiter looks at the table whenever a
 * park of bounded length ends; an async waiter cannot park with a short
 * timeout instead (see onLivenessTick), so it registers a check that one
 * unref'd interval per thread runs every LIVENESS_TICK ms while it waits.
 */
import { readFileSync } from 'node:fs';
import { type MessagePort, MessageChannel, Worker, isMainThread } from 'node:worker_threads';
import { arena, tokenProcess } from './arena.js';
import { adoptThreadToken, newThreadToken, ownThreadToken } from './identity.js';

const SLOTS = 8192;

/**
 * What a conc thread's boot data carries so the thread takes part. The ports
 * are `MessagePort`s of node:worker_threads, typed `object` here so that the
 * public types of @conc/core need no @types/node.
 */
export interface LivenessBoot {
  table: SharedArrayBuffer;
  /** Registration port to the reaper, for the threads this thread starts. */
  reaper: object;
  /** Held for the thread's whole life: its closing is the news of its end. */
  life: object;
  /** The thread's token, taken by its starter (the 'shm' backend), or 0. */
  token?: number;
}

interface State {
  table: Int32Array | null;
  /** How this thread talks to the reaper (the Worker itself in the thread that created it). */
  reaper: { postMessage(m: unknown, transfer?: readonly MessagePort[]): void } | null;
  life: MessagePort | null;
}

const stateKey = Symbol.for('conc.liveness.v1');
const state: State = ((globalThis as any)[stateKey] ??= { table: null, reaper: null, life: null });

// The reaper: registrations arrive on its parentPort and on the registration
// ports of the threads it watches. It must never block.
const REAPER = `
const { parentPort } = require('node:worker_threads');
let table = null;
function ended(token, status, index, done) {
  if (table === null) return;
  const k = (token - 1) % ${SLOTS};
  const died = status ? Atomics.load(new Int32Array(status), index) !== done : true;
  Atomics.store(table, 2 * k + 1, died ? 1 : 0);
  Atomics.store(table, 2 * k, token);
}
function onMessage(m) {
  if (m.table) table = new Int32Array(m.table);
  if (m.reg) { m.reg.on('message', onMessage); m.reg.unref(); }
  if (m.life) {
    const { token, status, index, done } = m;
    m.life.on('close', () => ended(token, status, index, done));
    m.life.start();
  }
}
parentPort.on('message', onMessage);
`;

function ensureReaper(): State {
  if (state.reaper === null) {
    const sab = new SharedArrayBuffer(8 * SLOTS);
    state.table = new Int32Array(sab);
    const worker = new Worker(REAPER, { eval: true, execArgv: [], stdout: true, stderr: true, env: {} });
    worker.unref();
    worker.postMessage({ table: sab });
    state.reaper = worker;
  }
  return state;
}

/**
 * Parent side of a new conc thread: the boot data for it (put `boot` in its
 * workerData and `transfer` in its transferList), then `watch(threadId)` once
 * the Worker exists, or `cancel()` if creating it failed. `status` names the
 * thread's status word and the value it holds when the target returned
 * normally; without it, any end counts as a death.
 */
export function prepareThreadWatch(): {
  boot: LivenessBoot;
  /** The MessagePorts to put in the new Worker's transferList. */
  transfer: any[];
  watch(workerThreadId: number, status?: { buffer: SharedArrayBuffer; index: number; done: number }): void;
  cancel(): void;
} {
  const s = ensureReaper();
  const life = new MessageChannel();
  const reg = new MessageChannel();
  const token = newThreadToken();
  return {
    boot: { table: s.table!.buffer as SharedArrayBuffer, reaper: reg.port1, life: life.port1, token },
    transfer: [reg.port1, life.port1],
    watch(workerThreadId, status) {
      s.reaper!.postMessage(
        {
          token: token !== 0 ? token : workerThreadId + 1,
          life: life.port2,
          reg: reg.port2,
          status: status?.buffer,
          index: status?.index,
          done: status?.done,
        },
        [life.port2, reg.port2],
      );
    },
    cancel() {
      for (const p of [life.port1, life.port2, reg.port1, reg.port2]) p.close();
    },
  };
}

/** Thread side: take part (called by the thread bootstrap with its boot data). */
export function adoptLiveness(boot: LivenessBoot | undefined): void {
  if (!boot || state.table !== null) return;
  adoptThreadToken(boot.token ?? 0);
  state.table = new Int32Array(boot.table);
  const reaper = boot.reaper as MessagePort;
  const life = boot.life as MessagePort;
  state.reaper = reaper;
  state.life = life; // kept referenced for the thread's whole life
  reaper.unref();
  life.unref();
}

/**
 * The calling thread's own token for liveness (identity.ts's own token):
 * unlike currentThreadToken() never overridden, so an internal lock or a wait
 * slot names the OS thread that really holds or waits on it.
 */
export function threadLivenessId(): number {
  return ownThreadToken();
}

/**
 * On the 'shm' backend, whether `token` is a thread of ANOTHER process of the
 * tree that is gone with its process: true/false, or undefined when the
 * token is ours or unknown (then the local table answers). A thread of
 * another process that ends while its process lives is not seen (that
 * process's table is its own): the unit that dies across processes is the
 * process (DESIGN.md, "Death").
 */
function foreignGone(token: number): boolean | undefined {
  const a = arena();
  if (a === null) return undefined;
  const pid = tokenProcess(a, token);
  if (pid === 0 || pid === process.pid) return undefined;
  return !processAlive(pid);
}

const deadPids = new Set<number>();

/**
 * Whether process `pid` is alive. A zombie counts as dead: a child killed
 * while its parent is blocked waiting on a lock it held is not reaped until
 * the parent's event loop runs, and the parent must not wait for itself.
 */
export function processAlive(pid: number): boolean {
  if (deadPids.has(pid)) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    deadPids.add(pid);
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') {
    deadPids.add(pid);
    return false;
  }
  return true;
}

/** True once the thread named by `token` has ended, in any way (or its process has, on the 'shm' backend). */
export function threadEnded(token: number): boolean {
  if (token <= 0 || token === ownThreadToken()) return false;
  const foreign = foreignGone(token);
  if (foreign !== undefined) return foreign;
  const t = state.table;
  if (t === null) return false;
  return Atomics.load(t, 2 * ((token - 1) % SLOTS)) === token;
}

/** True once the thread named by `token` has died (ended without returning from its target; a foreign one: with its process). */
export function threadDied(token: number): boolean {
  if (token <= 0 || token === ownThreadToken()) return false;
  const foreign = foreignGone(token);
  if (foreign !== undefined) return foreign;
  const t = state.table;
  if (t === null) return false;
  const k = (token - 1) % SLOTS;
  return Atomics.load(t, 2 * k + 1) === 1 && Atomics.load(t, 2 * k) === token;
}

/** @internal for tests: whether this thread takes part. */
export function livenessActive(): boolean {
  return state.table !== null || isMainThread;
}

/** Alias of {@link threadEnded}, the name the Condition and Queue internals use. */
export const isThreadGone: (token: number) => boolean = threadEnded;

// ---- the tick: periodic checks for async waiters ------------------------------

/** How often (ms) {@link onLivenessTick} callbacks run. */
export const LIVENESS_TICK = 50;

const tickers = new Set<() => void>();
let ticking: ReturnType<typeof setInterval> | undefined;

function tick(): void {
  if (tickers.size === 0) {
    // Stopped here rather than when the last check leaves: waiters that come
    // and go quickly then reuse the running interval.
    clearInterval(ticking);
    ticking = undefined;
    return;
  }
  for (const fn of tickers) {
    try {
      fn();
    } catch {
      // a check that throws must not stop the others
    }
  }
}

/**
 * Run `check` every {@link LIVENESS_TICK} ms on the calling thread, until
 * the returned function is called. For async waiters that must look now
 * and then whether a thread they depend on is gone: they cannot park with a
 * short timeout instead, since each Atomics.waitAsync timeout is a V8 task
 * that lingers until it expires, even once the wait is over, and thousands
 * of them slow the event loop down. One unref'd interval serves every
 * check of the thread (the waiter's own wait holds the event loop open).
 * Pass a new function each time: the same function registered twice runs
 * once, and leaves at the first unregistration.
 */
export function onLivenessTick(check: () => void): () => void {
  tickers.add(check);
  if (ticking === undefined) {
    ticking = setInterval(tick, LIVENESS_TICK);
    ticking.unref?.();
  }
  return () => {
    tickers.delete(check);
  };
}
