/**
 * The child side of the bridge, in every thread of a child process that
 * holds references to primitives served by a parent's broker.
 *
 * A reference `{ socket, id, tag, info }` revives as a proxy: an object whose
 * prototype is a per-class prototype created with Object.create(Cls.prototype)
 * that overrides the class's own public methods and getters (and those of
 * its registered base classes) with forwarding calls, so `instanceof` holds
 * and inherited helpers (Acquirable's guard / withLock, Condition.waitFor,
 * async iteration) run locally on top of the forwarded methods.
 *
 *   xSync(...)        blocking call: the caller blocks in Atomics.wait on
 *                     its wake word until the reply is in (main thread too)
 *   x(...) with an    async call (a `${x}Sync` sibling exists, or x is an
 *   xSync sibling     async function): a Promise; an AbortSignal in its
 *                     options becomes an 'abort' request
 *   anything else     synchronous call (release, tryAcquire, set, isSet,
 *                     notify, qsize, getters...): a blocking round trip
 *
 * Transport: a client worker thread (client-worker.ts) owns the sockets. Each
 * thread talks to it over a BroadcastChannel of its own ("conc.process.t<threadId>")
 * and a wake word in a shared mailbox (a SharedArrayBuffer the child's
 * bootstrap created; threads get it inside the references they receive).
 * The client worker posts each reply on the thread's channel, then bumps the
 * thread's wake word and notifies it, so a blocked thread wakes and reads the
 * reply with receiveMessageOnPort.
 *
 * Queues (Python's feeder thread is the model): on an unbounded queue, put /
 * putSync / putNowait append to a per-thread outbox that is flushed as one
 * 'putMany' when it reaches 1024 items, at the next event-loop turn, or
 * before any other request of the thread (so a thread's operations keep their
 * order). get / getSync fetch up to 1024 items at once ('getMany'; the broker
 * hands out at most half of what is left, so one consumer cannot take every
 * sentinel) into a per-thread buffer. Taken items are acknowledged with the
 * next fetch, every 256 items, and at exit; items left untaken for 50 ms are
 * given back. The broker puts back whatever a dead child had not
 * acknowledged: nothing is lost; a child SIGKILLed right after taking an
 * item may see that item delivered again elsewhere (at-least-once).
 */
import { threadId, BroadcastChannel, receiveMessageOnPort } from 'node:worker_threads';
import { BRAND, REMOTE, decodeSync, setRemoteReviver, type ShareEntry } from '@conc/core';
import { reviveError } from '@conc/thread';
import { ruleOf } from './remote.js';
import { MB_FIRST_SLOT, MB_NEXT_SLOT, MB_READY, MB_WORDS } from './wire.js';


const mailboxKey = Symbol.for('conc.process.mailbox.v1');
const bridgeUrl = require('node:url').pathToFileURL(__filename).href as string;

interface Ref {
  bridge: string;
  socket: string;
  id: number;
  tag: string;
  info?: Record<string, any>;
  mailbox?: SharedArrayBuffer;
}

type Pending = { resolve(v: unknown): void; reject(e: unknown): void };

class Channel {
  private readonly bc: BroadcastChannel;
  private readonly mb: Int32Array;
  private readonly slot: number;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly sync = new Map<number, { ok: boolean; v?: unknown; e?: any }>();
  private readonly outbox = new Map<string, { socket: string; o: number; items: unknown[] }>();
  private outCount = 0;
  private flushScheduled = false;
  readonly sockets = new Set<string>();
  readonly queues = new Set<any>();

  constructor(mailbox: SharedArrayBuffer) {
    this.mb = new Int32Array(mailbox);
    const slot = Atomics.add(this.mb, MB_NEXT_SLOT, 1) + MB_FIRST_SLOT;
    if (slot >= MB_WORDS) throw new Error('conc: too many threads use primitives of a parent process');
    this.slot = slot;
    // The client worker must be listening before we say hello.
    const deadline = Date.now() + 10_000;
    while (Atomics.load(this.mb, MB_READY) === 0) {
      if (Date.now() > deadline) throw new Error('conc: the process bridge thread did not start');
      Atomics.wait(this.mb, MB_READY, 0, 50);
    }
    this.bc = new BroadcastChannel(`conc.process.t${threadId}`);
    let seen = Atomics.load(this.mb, slot);
    const hello = new BroadcastChannel('conc.process.hello');
    hello.postMessage({ t: threadId, slot });
    hello.close();
    for (;;) {
      const m = receiveMessageOnPort(this.bc as any);
      if (m && m.message.k === 'ready') break;
      if (m) continue;
      if (Date.now() > deadline) throw new Error('conc: the process bridge thread did not answer');
      Atomics.wait(this.mb, slot, seen, 50);
      seen = Atomics.load(this.mb, slot);
    }
    this.bc.onmessage = (e: any) => this.dispatch(e.data);
    this.bc.unref();
  }

  private dispatch(r: { c: number; ok: boolean; v?: unknown; e?: any }): void {
    const p = this.pending.get(r.c);
    if (p) {
      this.pending.delete(r.c);
      if (this.pending.size === 0) this.bc.unref();
      if (r.ok) p.resolve(r.v);
      else p.reject(reviveError(r.e));
    } else if (r.c !== undefined) {
      this.sync.set(r.c, r);
    }
  }

  private post(msg: any): void {
    this.sockets.add(msg.sock);
    this.bc.postMessage(msg);
  }

  /** Send a request and block until its reply. */
  callSync(msg: any): unknown {
    this.flush();
    const c = this.next++;
    msg.c = c;
    let seen = Atomics.load(this.mb, this.slot);
    this.post(msg);
    for (;;) {
      for (let m = receiveMessageOnPort(this.bc as any); m; m = receiveMessageOnPort(this.bc as any)) {
        if (m.message.c === c) {
          const r = m.message;
          if (r.ok) return r.v;
          throw reviveError(r.e);
        }
        const r = m.message;
        queueMicrotask(() => this.dispatch(r));
      }
      const early = this.sync.get(c);
      if (early) {
        this.sync.delete(c);
        if (early.ok) return early.v;
        throw reviveError(early.e);
      }
      Atomics.wait(this.mb, this.slot, seen, 100);
      seen = Atomics.load(this.mb, this.slot);
    }
  }

  /** Send a request; a Promise of its reply. `signal` aborts it (an 'abort' request). */
  call(msg: any, signal?: AbortSignal): Promise<unknown> {
    this.flush();
    const c = this.next++;
    msg.c = c;
    return new Promise((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => this.post({ k: 'abort', sock: msg.sock, c });
        signal.addEventListener('abort', onAbort, { once: true });
      }
      const done = () => {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
      };
      if (this.pending.size === 0) this.bc.ref();
      this.pending.set(c, {
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(signal?.aborted ? signal.reason : e);
        },
      });
      this.post(msg);
    });
  }

  /** Fire and forget (acks). */
  send(msg: any): void {
    this.flush();
    this.post(msg);
  }

  /** Batch a put on an unbounded queue. */
  enqueuePut(socket: string, o: number, item: unknown): void {
    const key = `${socket}#${o}`;
    let box = this.outbox.get(key);
    if (!box) this.outbox.set(key, (box = { socket, o, items: [] }));
    box.items.push(item);
    if (++this.outCount >= 1024) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.outCount === 0) return;
    for (const box of this.outbox.values()) {
      if (box.items.length) this.post({ k: 'putMany', sock: box.socket, o: box.o, t: threadId, items: box.items });
      box.items = [];
    }
    this.outCount = 0;
  }

  /** Before the process ends: flush, acknowledge / give back queue items, and wait for every broker to have seen it all. */
  async shutdown(): Promise<void> {
    for (const q of this.queues) settleQueue(q, true);
    this.flush();
    await Promise.all([...this.sockets].map((sock) => this.call({ k: 'bye', sock })));
  }
}

const channelKey = Symbol.for('conc.process.channel.v1');

function channel(): Channel {
  const g = globalThis as any;
  if (g[channelKey]) return g[channelKey];
  const mailbox = g[mailboxKey] as SharedArrayBuffer | undefined;
  if (!mailbox) {
    throw new Error('conc: this thread holds a primitive of another process but has no bridge to it (was it started by @conc/process?)');
  }
  return (g[channelKey] = new Channel(mailbox));
}

// ---- proxies ----------------------------------------------------------------

const REF = Symbol('conc.process.ref');
const QSTATE = Symbol('conc.process.queue');

interface QueueState {
  buffer: unknown[];
  taken: number;
  unacked: number;
  lastTake: number;
  timer: NodeJS.Timeout | undefined;
}

function refOf(proxy: any): Ref {
  return proxy[REF];
}

function optionsIndex(proto: any, name: string): number {
  const fn = proto[name];
  return typeof fn === 'function' ? Math.max(0, fn.length - 1) : 0;
}

/** Strip the (unclonable) signal from the options at `i`. */
function splitSignal(args: unknown[], i: number): AbortSignal | undefined {
  const o = args[i] as any;
  if (typeof o === 'object' && o !== null && 'signal' in o) {
    const { signal, ...rest } = o;
    args[i] = rest;
    return signal;
  }
  return undefined;
}

function forwardCall(proxy: any, name: string, args: unknown[], kind: 'sync' | 'blocking' | 'async', s: number) {
  const ref = refOf(proxy);
  const ch = channel();
  const msg: any = { k: 'call', sock: ref.socket, t: threadId, o: ref.id, m: name, a: args };
  if (kind === 'sync') return ch.callSync(msg);
  msg.s = s;
  if (kind === 'blocking') {
    splitSignal(args, s);
    return ch.callSync(msg);
  }
  let signal: AbortSignal | undefined;
  try {
    signal = splitSignal(args, s);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return ch.call(msg, signal);
  } catch (error) {
    return Promise.reject(error);
  }
}

function queueState(proxy: any): QueueState {
  let st = proxy[QSTATE] as QueueState | undefined;
  if (!st) {
    st = { buffer: [], taken: 0, unacked: 0, lastTake: 0, timer: undefined };
    Object.defineProperty(proxy, QSTATE, { value: st });
    channel().queues.add(proxy);
  }
  return st;
}

function take(proxy: any, st: QueueState): unknown {
  const item = st.buffer.shift();
  st.unacked++;
  st.lastTake = Date.now();
  if (st.unacked >= 256) settleQueue(proxy, false);
  if (st.buffer.length > 0 && !st.timer) armGiveBack(proxy, st);
  return item;
}

function armGiveBack(proxy: any, st: QueueState): void {
  st.timer = setTimeout(() => {
    st.timer = undefined;
    if (st.buffer.length === 0) return;
    const idle = Date.now() - st.lastTake;
    if (idle >= 50) settleQueue(proxy, true);
    else armGiveBack(proxy, st);
  }, 50);
  st.timer.unref();
}

/** Acknowledge taken items; with `giveBack`, hand the untaken rest back to the broker. */
function settleQueue(proxy: any, giveBack: boolean): void {
  const st = proxy[QSTATE] as QueueState | undefined;
  if (!st || (st.unacked === 0 && (!giveBack || st.buffer.length === 0))) return;
  const ref = refOf(proxy);
  channel().send({ k: 'ack', sock: ref.socket, o: ref.id, n: st.unacked, back: giveBack && st.buffer.length ? 1 : undefined });
  st.unacked = 0;
  if (giveBack) st.buffer.length = 0;
}

function getMany(proxy: any, args: unknown[], blocking: boolean): unknown {
  const ref = refOf(proxy);
  const st = queueState(proxy);
  const ch = channel();
  const msg: any = { k: 'getMany', sock: ref.socket, t: threadId, o: ref.id, a: args.slice(0, 1), max: 1024, ack: st.unacked };
  st.unacked = 0;
  const fill = (items: unknown) => {
    st.buffer.push(...(items as unknown[]));
    return take(proxy, st);
  };
  if (blocking) {
    splitSignal(msg.a, 0);
    return fill(ch.callSync(msg));
  }
  try {
    const signal = splitSignal(msg.a, 0);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return ch.call(msg, signal).then(fill);
  } catch (error) {
    return Promise.reject(error);
  }
}

function queueOverrides(proto: any, ref0: { unbounded: (p: any) => boolean }) {
  return {
    put(this: any, item: unknown, options?: any) {
      if (ref0.unbounded(this) && !options?.signal) {
        if (options !== undefined) checkTimeout(options, 'Queue.put');
        channel().enqueuePut(refOf(this).socket, refOf(this).id, item);
        return Promise.resolve();
      }
      return forwardCall(this, 'put', [item, options], 'async', 1);
    },
    putSync(this: any, item: unknown, options?: any) {
      if (ref0.unbounded(this)) {
        if (options !== undefined) checkTimeout(options, 'Queue.putSync');
        channel().enqueuePut(refOf(this).socket, refOf(this).id, item);
        return;
      }
      forwardCall(this, 'putSync', [item, options], 'blocking', 1);
    },
    putNowait(this: any, item: unknown) {
      if (ref0.unbounded(this)) {
        channel().enqueuePut(refOf(this).socket, refOf(this).id, item);
        return;
      }
      forwardCall(this, 'putNowait', [item], 'sync', 0);
    },
    get(this: any, options?: any) {
      const st = queueState(this);
      if (st.buffer.length > 0) return Promise.resolve(take(this, st));
      return getMany(this, [options], false);
    },
    getSync(this: any, options?: any) {
      const st = queueState(this);
      if (st.buffer.length > 0) return take(this, st);
      return getMany(this, [options], true);
    },
    getNowait(this: any) {
      const st = queueState(this);
      if (st.buffer.length > 0) return take(this, st);
      return forwardCall(this, 'getNowait', [], 'sync', 0);
    },
    qsize(this: any) {
      const st = queueState(this);
      return (forwardCall(this, 'qsize', [], 'sync', 0) as number) + st.buffer.length;
    },
    empty(this: any) {
      const st = queueState(this);
      return st.buffer.length === 0 && (forwardCall(this, 'empty', [], 'sync', 0) as boolean);
    },
  };
}

function checkTimeout(options: any, method: string): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${method}: options must be an object`);
  const t = options.timeout;
  if (t !== undefined && t !== Number.POSITIVE_INFINITY && (typeof t !== 'number' || Number.isNaN(t) || t < 0)) {
    throw new RangeError(`${method}: timeout must be a non-negative number of milliseconds or Infinity, got ${String(t)}`);
  }
}

const protos = new Map<string, object>();

function protoFor(entry: ShareEntry): object {
  let proto = protos.get(entry.tag);
  if (proto) return proto;
  if (!entry.cls) throw new Error(`conc: ${entry.tag} was registered without its class`);
  const base = entry.cls.prototype;
  proto = Object.create(base) as object;
  const rule = ruleOf(entry.tag);
  const local = new Set<string | symbol>(rule.local ?? []);
  const all = new Set<string>();
  for (let p = base; p && Object.prototype.hasOwnProperty.call(p, BRAND); p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) all.add(name);
  }
  const done = new Set<string>();
  for (let p = base; p && Object.prototype.hasOwnProperty.call(p, BRAND); p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || done.has(name) || local.has(name)) continue;
      done.add(name);
      const d = Object.getOwnPropertyDescriptor(p, name)!;
      if (d.get) {
        Object.defineProperty(proto, name, {
          configurable: true,
          get(this: any) {
            const ref = refOf(this);
            return channel().callSync({ k: 'call', sock: ref.socket, t: threadId, o: ref.id, m: name, a: [], g: 1 });
          },
        });
        continue;
      }
      if (typeof d.value !== 'function') continue;
      const fn = d.value as Function;
      let kind: 'sync' | 'blocking' | 'async' = 'sync';
      let s = 0;
      if (name.endsWith('Sync') && all.has(name.slice(0, -4))) {
        kind = 'blocking';
        s = optionsIndex(base, name.slice(0, -4));
      } else if (all.has(`${name}Sync`) || fn.constructor?.name === 'AsyncFunction') {
        kind = 'async';
        s = optionsIndex(base, name);
      }
      Object.defineProperty(proto, name, {
        configurable: true,
        writable: true,
        value: {
          [name](this: any, ...args: unknown[]) {
            return forwardCall(this, name, args, kind, s);
          },
        }[name],
      });
    }
  }
  if (rule.queue) {
    const unbounded = (p: any) => !(refOf(p).info?.maxsize > 0);
    for (const [name, fn] of Object.entries(queueOverrides(base, { unbounded }))) {
      if (name in base) Object.defineProperty(proto, name, { configurable: true, writable: true, value: fn });
    }
  }
  Object.defineProperty(proto, REMOTE, {
    value(this: any, destination: string) {
      const ref = refOf(this);
      const out: Ref = { bridge: bridgeUrl, socket: ref.socket, id: ref.id, tag: ref.tag, info: ref.info };
      if (destination === 'thread') out.mailbox = (globalThis as any)[mailboxKey];
      return out;
    },
  });
  protos.set(entry.tag, proto);
  return proto;
}

const proxies = new Map<string, object>();

/** Turn a reference into a proxy of its class (one per reference and thread). */
export function reviveRemote(ref: Ref, entry: ShareEntry): unknown {
  const key = `${ref.socket}#${ref.id}`;
  const known = proxies.get(key);
  if (known) return known;
  if (ref.mailbox) (globalThis as any)[mailboxKey] ??= ref.mailbox;
  const proxy = Object.create(protoFor(entry));
  Object.defineProperty(proxy, REF, { value: ref });
  // Facts the class keeps as own properties (a queue's maxsize, a Condition's lock).
  for (const [k, v] of Object.entries(ref.info ?? {})) {
    Object.defineProperty(proxy, k, { value: typeof v === 'object' && v !== null ? decodeSync(v) : v, enumerable: true });
  }
  proxies.set(key, proxy);
  return proxy;
}

/** Child bootstrap: this process's mailbox. */
export function setMailbox(mailbox: SharedArrayBuffer): void {
  (globalThis as any)[mailboxKey] = mailbox;
}

/** Child bootstrap: flush and say goodbye to every broker this thread used. */
export async function shutdownThread(): Promise<void> {
  const ch = (globalThis as any)[channelKey] as Channel | undefined;
  if (ch) await ch.shutdown();
}

setRemoteReviver((remote, entry) => reviveRemote(remote as unknown as Ref, entry));
