/**
 * The parent side of the broker: turns a primitive bound for a child process
 * into a reference `{ socket, id, tag }` and registers it with the broker
 * thread (broker-worker.ts) that serves it.
 *
 * Why a thread: the broker must keep answering while this thread is blocked
 * in a Sync call (say `lock.acquireSync()` on a lock a child holds: the
 * child's release has to be served for us to wake) or busy computing. A
 * worker thread lives in the same process as the primitives'
 * SharedArrayBuffers, so it serves them by operating on the very same
 * memory: it revives each primitive from its thread encoding with core's
 * decode and calls its methods.
 *
 * Who may connect. The socket is `<tmpdir>/conc-<pid>-<threadId>-XXXXXX/s`:
 * the directory is made by mkdtemp (0700) and the broker makes the socket
 * 0600, so no other user can reach it. A process of the same user can, so
 * every connection must open with a key (32 random bytes) that only a child
 * of ours holds: Process.start makes one per child, registers it with the
 * broker, and sends it in the child's boot message over the child's own IPC
 * channel (never argv or env, which others can read in /proc). A child
 * passes the keys it holds for other brokers on to its own children the same
 * way (a grandchild handed a primitive of ours uses its parent's key), and
 * to its Threads inside references. A child's key is revoked when it has
 * exited. References themselves carry no key: a reference that leaks opens
 * nothing.
 *
 * What is left behind. Nothing, however the owner dies, as far as can be:
 *   - at exit: the socket and directory are removed ('exit' handler);
 *   - killed by any signal (SIGTERM, SIGINT, SIGHUP, SIGKILL): the watchdog
 *     (watchdog.ts), which sees the owner die by the end of its stdin, kills
 *     the children and removes the directory. We install no signal
 *     handlers: a JavaScript handler runs only when the main thread's event
 *     loop turns, so a parent busy in a loop or blocked in `acquireSync`
 *     would no longer die at once by Ctrl+C or SIGTERM;
 *   - if the watchdog is gone too (killed with the owner, or a broker of a
 *     worker thread, which has none): the next broker that starts removes
 *     the directories of owners that are no longer running.
 * Linux's abstract socket namespace would leave no file at all, but it is
 * reachable by every user of the machine (no file modes) and is not
 * portable; the private directory keeps other users out before any byte is
 * read, and the key keeps out the user's other processes.
 *
 * Invariants:
 *   - One broker per thread that shares primitives with children (normally
 *     the main thread), started lazily on the first share; it is unref'd (a
 *     daemon: it never keeps the process alive) and listens on a Unix socket
 *     in a private directory of os.tmpdir(), removed at exit.
 *   - A key is registered with the broker BEFORE the boot message carrying
 *     it is sent, and the broker drains registrations before it refuses a
 *     key, so a child's first connection is never refused.
 *   - A primitive gets one id for the life of the broker (WeakMap); its
 *     registration is posted BEFORE the reference is returned, hence before
 *     any child can hold the reference and call, and the broker drains
 *     registrations before it answers "unknown id".
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker, isMainThread, threadId } from 'node:worker_threads';
import { type RemoteRef, type ShareEntry, encode, setProcessSharer } from '@conc/core';
import { describeForChild, requestBytesOf } from './spec.js';
import { watchDir } from './watchdog.js';
import { KEY_BYTES, type OwnerMessage, type Registration } from './wire.js';

/** Module the receiving side loads to revive references (core's `bridge`). */
const clientUrl = new URL('./client.cjs', import.meta.url).href;
const brokerFile = fileURLToPath(new URL('./broker-worker.cjs', import.meta.url));

/** What a child receives for a primitive. */
export interface BrokerRef extends RemoteRef {
  socket: string;
  id: number;
  tag: string;
  info?: Record<string, unknown>;
  /** The largest item a child may send it in one request (its ProcessSpec.requestBytes), if set. */
  cap?: number;
}

interface Broker {
  worker: Worker;
  port: MessagePort;
  socket: string;
  ids: WeakMap<object, number>;
  next: number;
}

let broker: Broker | undefined;

/** The socket's name inside the broker's private directory. */
const SOCKET_NAME = 's';

/** Keys this process holds for other processes' brokers (socket -> hex key): a child's, from its boot message. */
const KEYS = Symbol.for('conc.process.keys.v1');
/** While encoding a child's args: the sockets the references made point to (see sharedSockets). */
const SHARING = Symbol.for('conc.process.sharing.v1');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: another user's, running
  }
}

function removeQuietly(remove: () => void): void {
  try {
    remove();
  } catch {
    // gone already, or not ours
  }
}

/**
 * The exit handler and the watchdog remove a broker's directory, but an
 * owner whose watchdog died with it cannot: remove what owners that are no
 * longer running left (directories of ours; and sockets left directly in
 * the temp dir by earlier versions).
 */
function removeStale(): void {
  const root = tmpdir();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const dir = /^conc-(\d+)-\d+-[A-Za-z0-9]{6}$/.exec(name);
    const legacy = dir ? null : /^conc-(\d+)-\d+-[0-9a-f]{8}\.sock$/.exec(name);
    const m = dir ?? legacy;
    if (!m || Number(m[1]) === process.pid || isRunning(Number(m[1]))) continue;
    const path = join(root, name);
    if (legacy) {
      removeQuietly(() => unlinkSync(path));
      continue;
    }
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
    removeQuietly(() => unlinkSync(join(path, SOCKET_NAME)));
    removeQuietly(() => rmdirSync(path)); // only if nothing else is in it
  }
}

function startBroker(): Broker {
  removeStale();
  const dir = mkdtempSync(join(tmpdir(), `conc-${process.pid}-${threadId}-`)); // mode 0700
  const socket = join(dir, SOCKET_NAME);
  if (isMainThread) watchDir(dir);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(brokerFile, { workerData: { socket, port: port2 }, transferList: [port2] });
  worker.unref();
  worker.on('error', (error) => {
    process.stderr.write(`conc: the process broker thread failed: ${error?.stack ?? error}\n`);
  });
  process.on('exit', () => {
    removeQuietly(() => unlinkSync(socket)); // not created yet, or already gone
    removeQuietly(() => rmdirSync(dir));
  });
  return { worker, port: port1, socket, ids: new WeakMap(), next: 0 };
}

/**
 * Run `encode` and collect the sockets of the brokers its references point
 * to (ours for our primitives, another process's for proxies this process
 * holds), so that the child gets keys for those and no others.
 */
export function sharedSockets<T>(encode: () => T): [T, Set<string>] {
  const g = globalThis as any;
  const outer = g[SHARING];
  const sockets = new Set<string>();
  g[SHARING] = sockets;
  try {
    return [encode(), sockets];
  } finally {
    g[SHARING] = outer;
  }
}

/**
 * The keys a child needs for `sockets`: a new one for our own broker
 * (registered with it now, before the boot message can reach the child),
 * and the ones this process holds for other brokers. `revoke` forgets ours
 * (call it once the child has exited).
 */
export function keysForChild(sockets: Set<string>): { keys: Record<string, string> | undefined; revoke(): void } {
  const keys: Record<string, string> = {};
  let mine: string | undefined;
  const held = (globalThis as any)[KEYS] as Map<string, string> | undefined;
  for (const socket of sockets) {
    if (broker && socket === broker.socket) {
      mine = randomBytes(KEY_BYTES).toString('hex');
      broker.port.postMessage({ key: mine } satisfies OwnerMessage);
      keys[socket] = mine;
    } else {
      const key = held?.get(socket);
      if (key !== undefined) keys[socket] = key;
    }
  }
  const owner = broker;
  return {
    keys: Object.keys(keys).length > 0 ? keys : undefined,
    revoke() {
      if (mine !== undefined) owner?.port.postMessage({ revoke: mine } satisfies OwnerMessage);
      mine = undefined;
    },
  };
}

/** Register `value` (a local primitive) with this thread's broker; returns its reference. */
function shareWithChildren(value: object, entry: ShareEntry): BrokerRef {
  broker ??= startBroker();
  let id = broker.ids.get(value);
  const info = describeForChild(entry.tag, value);
  const cap = requestBytesOf(entry.tag, value) || undefined;
  if (id === undefined) {
    id = ++broker.next;
    broker.ids.set(value, id);
    // cap raises the size of request the broker accepts (wire.ts requestCap).
    const registration: Registration = { id, tag: entry.tag, marker: encode(value, 'thread'), cap };
    broker.port.postMessage(registration);
  }
  (globalThis as any)[SHARING]?.add(broker.socket);
  return { bridge: clientUrl, socket: broker.socket, id, tag: entry.tag, info, cap };
}

/** Install core's process sharer (idempotent). */
export function installProcessSharer(): void {
  setProcessSharer((value, entry) => shareWithChildren(value as object, entry));
}
