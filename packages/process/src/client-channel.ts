/**
 * The transport of a child's thread to the brokers it uses: a Channel to
 * the child's bridge thread (client-worker.ts), which owns the sockets.
 *
 * Each thread talks to the bridge over a BroadcastChannel of its own
 * ("conc.process.t<threadId>") and a wake word in a shared mailbox (a
 * SharedArrayBuffer the child's bootstrap created; threads get it inside the
 * references they receive). A request is serialized by the caller, once, and
 * the bridge forwards the bytes; a reply's bytes are deserialized here. The
 * bridge posts each reply on the thread's channel, then bumps the thread's
 * wake word and wakes it, so a blocked thread wakes and reads the reply with
 * receiveMessageOnPort. A message posted to the bridge is on its way: the
 * bridge thread writes it to the socket whatever this thread does next.
 *
 * Invariants:
 *   - Replies are matched to calls by this thread's call ids (1..2^31-1,
 *     wrapping); a waiter is called once, with its reply as delivered.
 *   - The channel is ref'd only while a reply is awaited: a thread with
 *     nothing outstanding is free to end.
 *   - A request larger than the owner accepts (wire.ts requestCap, raised
 *     by the largest item of that socket's primitives) is refused here,
 *     sending nothing: the owner would close the connection on it.
 *   - Blocking waits park on the wake word with core's waitSync (no
 *     spinning), re-reading the channel each time the word moves.
 */
import { deserialize, serialize } from 'node:v8';
import { BroadcastChannel, isMainThread, receiveMessageOnPort, threadId } from 'node:worker_threads';
import { waitSync } from '@conc/core';
import { reviveError } from './errors.js';
import {
  type AbortRequest,
  type BridgeReady,
  MB_BUSY,
  MB_FIRST_SLOT,
  MB_NEXT_SLOT,
  MB_READY,
  MB_WORDS,
  type Reply,
  type Request,
  type ThreadHello,
  type ThreadPost,
  type ThreadReply,
  requestCap,
} from './wire.js';

export const mailboxKey = Symbol.for('conc.process.mailbox.v1');
const channelKey = Symbol.for('conc.process.channel.v1');

/** A Thread that ends waits at most this long for its streams to settle. */
const LEAVE_PATIENCE_MS = 2000;
/** A blocked wait re-checks the channel at least this often (a missed wake costs no more). */
const PARK_MS = 100;

/** A reply: ok and its value (or the error); `lend`: the lend id of an item it brings. */
type Waiter = (ok: boolean, value: unknown, lend?: number) => void;

/** Calls a primitive streams (client-feed.ts, client-lend.ts), settled when the thread ends. */
export interface Stream {
  /** The thread is ending: give up what waits, send what is due. */
  leave(): void;
  /** Something sent is not confirmed yet. */
  readonly busy: boolean;
  /** Before the thread ends (shutdown): ask for confirmations still due. */
  flush?(): void;
  /** The first refusal no call surfaced yet. */
  report?(): Error | undefined;
}

/** Per socket: the largest item one of its primitives accepts (the broker's request cap follows it). */
const itemCaps = new Map<string, number>();

/** Note that `socket` accepts items of `cap` bytes. */
export function noteItemCap(socket: string, cap: unknown): void {
  if (typeof cap === 'number' && cap > (itemCaps.get(socket) ?? 0)) itemCaps.set(socket, cap);
}

const ABORT = serialize({ k: 'abort' } satisfies AbortRequest);

function park(mb: Int32Array, slot: number, seen: number, ms: number): void {
  waitSync(mb, slot, seen, performance.now() + ms, 0);
}

export class Channel {
  private readonly bc: BroadcastChannel;
  private readonly mb: Int32Array;
  private readonly slot: number;
  private next = 1;
  private readonly waiters = new Map<number, Waiter>();
  readonly sockets = new Set<string>();
  readonly streams = new Set<Stream>();

  constructor(mailbox: SharedArrayBuffer) {
    this.mb = new Int32Array(mailbox);
    const slot = Atomics.add(this.mb, MB_NEXT_SLOT, 1) + MB_FIRST_SLOT;
    if (slot >= MB_WORDS) throw new Error('conc: too many threads use primitives of a parent process');
    this.slot = slot;
    // The bridge thread must be listening before we say hello.
    const deadline = Date.now() + 10_000;
    while (Atomics.load(this.mb, MB_READY) === 0) {
      if (Date.now() > deadline) throw new Error('conc: the process bridge thread did not start');
      park(this.mb, MB_READY, 0, 50);
    }
    this.bc = new BroadcastChannel(`conc.process.t${threadId}`);
    let seen = Atomics.load(this.mb, slot);
    const hello = new BroadcastChannel('conc.process.hello');
    hello.postMessage({ t: threadId, slot } satisfies ThreadHello);
    hello.close();
    for (;;) {
      const m = receiveMessageOnPort(this.bc as any);
      if (m && (m.message as BridgeReady).k === 'ready') break;
      if (m) continue;
      if (Date.now() > deadline) throw new Error('conc: the process bridge thread did not answer');
      park(this.mb, slot, seen, 50);
      seen = Atomics.load(this.mb, slot);
    }
    this.bc.onmessage = (e: any) => this.deliver(e.data as ThreadReply);
    this.bc.unref();
    // A Thread of the child that ends: settle every stream it used (the
    // process, and its connection, live on: nothing else would). The child's
    // main thread does this in shutdown().
    if (!isMainThread) process.once('exit', () => this.leave());
  }

  /** The thread is ending: settle its streams, and wait (a little) for what they sent to be confirmed. */
  private leave(): void {
    for (const st of this.streams) st.leave();
    const end = Date.now() + LEAVE_PATIENCE_MS;
    this.pumpUntil(() => Date.now() > end || [...this.streams].every((st) => !st.busy));
  }

  /** This thread has sends not yet confirmed (+1) or no longer has (-1) on one more stream. */
  busy(delta: 1 | -1): void {
    Atomics.add(this.mb, MB_BUSY, delta);
  }

  private deliver(r: ThreadReply): void {
    const w = this.waiters.get(r.c);
    if (!w) return;
    this.waiters.delete(r.c);
    if (this.waiters.size === 0) this.bc.unref();
    let reply: Reply;
    try {
      reply = deserialize(r.b);
    } catch (error) {
      w(false, error);
      return;
    }
    if (reply.ok) w(true, reply.v, reply.l);
    else {
      const error = reviveError(reply.e);
      if (typeof reply.n === 'number') (error as { dropped?: number }).dropped = reply.n;
      w(false, error);
    }
  }

  /** Post a frame to the bridge: `c` 0 wants no reply; `abort`: abort call `c`. */
  post(sock: string, c: number, body: Uint8Array, abort = false): void {
    this.sockets.add(sock);
    const m: ThreadPost = abort ? { s: sock, c, b: body, x: 1 } : { s: sock, c, b: body };
    this.bc.postMessage(m);
  }

  /** Send a serialized request whose reply goes to `w` (as it is delivered); returns its call id. */
  request(sock: string, body: Uint8Array, w: Waiter): number {
    const c = this.next;
    this.next = this.next >= 0x7fffffff ? 1 : this.next + 1;
    const cap = requestCap(itemCaps.get(sock) ?? 0);
    if (body.length > cap) {
      w(
        false,
        new RangeError(
          `conc: a request of ${body.length} bytes is more than the ${cap} bytes the owning process accepts (an item larger than the primitive holds?); nothing was sent`,
        ),
      );
      return c;
    }
    if (this.waiters.size === 0) this.bc.ref();
    this.waiters.set(c, w);
    this.post(sock, c, body);
    return c;
  }

  /** Abort call `c` (its reply still comes). */
  abort(sock: string, c: number): void {
    this.post(sock, c, ABORT, true);
  }

  /** Block this thread, delivering replies as they come, until `done()`. */
  pumpUntil(done: () => boolean): void {
    let seen = Atomics.load(this.mb, this.slot);
    while (!done()) {
      const m = receiveMessageOnPort(this.bc as any);
      if (m) {
        this.deliver(m.message as ThreadReply);
        continue;
      }
      park(this.mb, this.slot, seen, PARK_MS);
      seen = Atomics.load(this.mb, this.slot);
    }
  }

  /** Send a serialized request and block until its reply: [ok, value, lend]. */
  requestSync(sock: string, body: Uint8Array): [boolean, unknown, number | undefined] {
    let out: [boolean, unknown, number | undefined] | undefined;
    this.request(sock, body, (ok, v, lend) => {
      out = [ok, v, lend];
    });
    this.pumpUntil(() => out !== undefined);
    return out!;
  }

  /** Send a request and block until its reply. */
  callSync(sock: string, msg: Request): unknown {
    const [ok, value] = this.requestSync(sock, serialize(msg));
    if (!ok) throw value;
    return value;
  }

  /** Send a request; a Promise of its reply. `signal` aborts it (an 'abort' frame). */
  call(sock: string, msg: Request, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const body = serialize(msg);
      let onAbort: (() => void) | undefined;
      const c = this.request(sock, body, (ok, v) => {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        if (ok) resolve(v);
        else reject(signal?.aborted ? signal.reason : v);
      });
      if (signal) {
        onAbort = () => this.abort(sock, c);
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Fire and forget (acknowledgements). */
  send(sock: string, msg: Request): void {
    this.post(sock, 0, serialize(msg));
  }

  /**
   * Before the thread ends: ask for the last confirmations, and wait for
   * every broker to have seen it all. Returns the first refusal no call has
   * surfaced yet.
   */
  async shutdown(): Promise<Error | undefined> {
    for (const st of this.streams) st.flush?.();
    await Promise.all([...this.sockets].map((sock) => this.call(sock, { k: 'bye' })));
    for (const st of this.streams) {
      const e = st.report?.();
      if (e) return e;
    }
    return undefined;
  }
}

/** This thread's channel (made on first use). */
export function channel(): Channel {
  const g = globalThis as any;
  if (g[channelKey]) return g[channelKey];
  const mailbox = g[mailboxKey] as SharedArrayBuffer | undefined;
  if (!mailbox) {
    throw new Error(
      'conc: this thread holds a primitive of another process but has no bridge to it (was it started by @conc/process?)',
    );
  }
  return (g[channelKey] = new Channel(mailbox));
}

/** This thread's channel if it has one. */
export function existingChannel(): Channel | undefined {
  return (globalThis as any)[channelKey];
}
