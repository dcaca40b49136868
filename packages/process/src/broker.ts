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
 * Invariants:
 *   - One broker per thread that shares primitives with children (normally
 *     the main thread), started lazily on the first share; it is unref'd (a
 *     daemon: it never keeps the process alive) and listens on a Unix socket
 *     in os.tmpdir(), unlinked at exit.
 *   - A primitive gets one id for the life of the broker (WeakMap); its
 *     registration is posted BEFORE the reference is returned, hence before
 *     any child can hold the reference and call, and the broker drains
 *     registrations before it answers "unknown id".
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker, threadId } from 'node:worker_threads';
import { type RemoteRef, type ShareEntry, encode, setProcessSharer } from '@conc/core';
import { describeForChild } from './remote.js';

/** Module the receiving side loads to revive references (core's `bridge`). */
export const clientUrl = new URL('./client.cjs', import.meta.url).href;
const brokerFile = fileURLToPath(new URL('./broker-worker.cjs', import.meta.url));

/** What a child receives for a primitive. */
export interface BrokerRef extends RemoteRef {
  socket: string;
  id: number;
  tag: string;
  info?: Record<string, unknown>;
}

interface Broker {
  worker: Worker;
  port: MessagePort;
  socket: string;
  ids: WeakMap<object, number>;
  next: number;
}

let broker: Broker | undefined;

/**
 * A broker's socket is unlinked at exit, but a SIGKILLed owner cannot do
 * that: remove the sockets of owners that are no longer running.
 */
function removeStaleSockets(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^conc-(\d+)-\d+-[0-9a-f]{8}\.sock$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0); // still running (or another user's): leave it
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
      try {
        unlinkSync(join(tmpdir(), name));
      } catch {
        // gone already
      }
    }
  }
}

function startBroker(): Broker {
  removeStaleSockets();
  const socket = join(tmpdir(), `conc-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.sock`);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(brokerFile, { workerData: { socket, port: port2 }, transferList: [port2] });
  worker.unref();
  worker.on('error', (error) => {
    process.stderr.write(`conc: the process broker thread failed: ${error?.stack ?? error}\n`);
  });
  process.on('exit', () => {
    try {
      unlinkSync(socket);
    } catch {
      // not created yet, or already gone
    }
  });
  return { worker, port: port1, socket, ids: new WeakMap(), next: 0 };
}

/** Register `value` (a local primitive) with this thread's broker; returns its reference. */
export function shareWithChildren(value: object, entry: ShareEntry): BrokerRef {
  broker ??= startBroker();
  let id = broker.ids.get(value);
  if (id === undefined) {
    id = ++broker.next;
    broker.ids.set(value, id);
    broker.port.postMessage({ id, tag: entry.tag, marker: encode(value, 'thread') });
  }
  return { bridge: clientUrl, socket: broker.socket, id, tag: entry.tag, info: describeForChild(entry.tag, value) };
}

/** Install core's process sharer (idempotent). */
export function installProcessSharer(): void {
  setProcessSharer((value, entry) => shareWithChildren(value as object, entry));
}
