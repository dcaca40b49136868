/**
 * The child side of the bridge (bundled to dist/client.cjs), in every thread
 * of a child process that holds references to primitives served by a
 * parent's broker: the reviver core calls for a `remote` marker, and the
 * child bootstrap's entry points.
 *
 *   client-proxy.ts    a reference revives as a proxy of its class
 *   client-call.ts     a forwarded call (blocking, async, sync)
 *   client-feed.ts     calls sent ahead (a queue's puts)
 *   client-lend.ts     calls that take one item each (a queue's gets)
 *   client-channel.ts  the transport to the bridge thread (client-worker.ts)
 *
 * Nothing here names a primitive: what a class exposes, and how, is its
 * ProcessSpec (spec.ts).
 */
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { decode, setRemoteReviver } from '@conc/core';
import { existingChannel, mailboxKey } from './client-channel.js';
import type { Ref } from './client-call.js';
import { reviveRemote } from './client-proxy.js';
import { MB_BUSY, MB_WORDS } from './wire.js';

/**
 * Child bootstrap: create this process's mailbox and start the bridge thread
 * (which also watches for the parent's death). Connections to brokers are
 * made lazily, on first use.
 */
export function startBridge(ppid: number, keys: Record<string, string> = {}): void {
  const mailbox = new SharedArrayBuffer(MB_WORDS * 4);
  (globalThis as any)[mailboxKey] = mailbox;
  new Worker(require('node:path').join(__dirname, 'client-worker.cjs'), {
    workerData: { mailbox, ppid, keys },
    env: SHARE_ENV,
    stdout: true,
  }).unref();
}

/** Child bootstrap: revive the target's arguments. */
export const decodeArgs = decode;

/**
 * Child bootstrap, when the target is done: have this thread's sends
 * confirmed and say goodbye to every broker it used, after the process's
 * other threads have had theirs confirmed (waiting at most `patience` ms for them).
 * Throws the first refusal no call surfaced.
 */
export async function shutdownThread(patience = 2000): Promise<void> {
  const ch = existingChannel();
  const error = ch ? await ch.shutdown() : undefined;
  const mailbox = (globalThis as any)[mailboxKey] as SharedArrayBuffer | undefined;
  if (mailbox) {
    const mb = new Int32Array(mailbox);
    const end = Date.now() + patience;
    while (Atomics.load(mb, MB_BUSY) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  }
  if (error) throw error;
}

setRemoteReviver((remote, entry) => reviveRemote(remote as unknown as Ref, entry));
