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
 *                     options becomes an 'abort' frame
 *   anything else     synchronous call (release, tryAcquire, set, isSet,
 *                     notify, qsize, getters...): a blocking round trip
 *
 * A result that is a conc primitive arrives as a reference and revives as a
 * proxy of its class (its package must be loaded in this thread for a
 * synchronous call; the async methods load it).
 *
 * Transport: a bridge worker thread (client-worker.ts) owns the sockets.
 * Each thread talks to it over a BroadcastChannel of its own
 * ("conc.process.t<threadId>") and a wake word in a shared mailbox (a
 * SharedArrayBuffer the child's bootstrap created; threads get it inside the
 * references they receive). A request is serialized here, once, and the
 * bridge forwards the bytes; a reply's bytes are deserialized here. The
 * bridge posts each reply on the thread's channel, then bumps the thread's
 * wake word and notifies it, so a blocked thread wakes and reads the reply
 * with receiveMessageOnPort.
 *
 * Queues (Python's feeder thread is the model):
 *   - put / putSync / putNowait on an unbounded queue append to the thread's
 *     batch for that queue, sent as one 'putMany' when it reaches 1024
 *     items, when its oldest item is 2 ms old (checked at each put), at the
 *     next event-loop turn, before any other request of the thread (so a
 *     thread's operations keep their order), and before the child exits.
 *     Every batch is answered. While more than 8 batches are unanswered the
 *     put waits (put: a Promise; putSync and putNowait: blocking): the
 *     parent's queue is full of bytes, or its broker is behind.
 *   - A batch refused by the queue (shut down; or an item it cannot hold)
 *     makes the thread's next put on that queue throw that error, and, once
 *     the queue is known to be shut down, every later put throws
 *     QueueShutDown at once. An error no put surfaced makes the child's
 *     target fail with it when it returns (join rejects): no put is dropped
 *     silently. (Refusals of batches sent before one was reported are not
 *     reported again: the thread already knows.)
 *   - get / getSync / getNowait fetch a window of items at once into a
 *     per-thread buffer ('getMany'; the owner books them per child thread
 *     until that thread acknowledges them). The window adapts: it doubles (up to
 *     4096) while full windows are drained within 10 ms, halves when one
 *     takes over 100 ms (a slow consumer does not hoard). While an async
 *     consumer drains a full window, the next one is prefetched (never
 *     waiting at the owner). Concurrent async gets of one thread wait in
 *     line (Getter): served in order from the buffer, one blocking fetch in
 *     flight for the first; a timeout or abort removes a getter from the
 *     line and aborts a fetch on its behalf (what it still brings is served
 *     to the next). Taken items are acknowledged with the next
 *     fetch; items left untaken for 50 ms go back to the queue (at its
 *     tail), and so does what a child's Thread that ends had not taken (its
 *     takes are acknowledged then). The broker puts back whatever a dead child had not
 *     acknowledged: nothing is lost, but a child SIGKILLed right after taking
 *     an item may see that item delivered again elsewhere (at-least-once).
 */
import { deserialize, serialize } from 'node:v8';
import { BroadcastChannel, SHARE_ENV, Worker, isMainThread, receiveMessageOnPort, threadId } from 'node:worker_threads';
import {
  BRAND,
  DataCloneError,
  REMOTE,
  type ShareEntry,
  decode,
  decodeSync,
  isEncoded,
  setRemoteReviver,
} from '@conc/core';
import { namedError, reviveError } from './errors.js';
import { isPublicGetter, isPublicMethod, ruleOf } from './remote.js';
import { BATCH_BYTES, MB_BUSY, MB_FIRST_SLOT, MB_NEXT_SLOT, MB_READY, MB_WORDS, requestCap } from './wire.js';

const mailboxKey = Symbol.for('conc.process.mailbox.v1');
const bridgeUrl = require('node:url').pathToFileURL(__filename).href as string;

/** Put batching: send at this many items, or when the oldest is this old; wait while this many batches are unanswered. */
const PUT_BATCH = 1024;
const PUT_AGE_MS = 2;
const PUT_WINDOW = 8;
/** Get windows. */
const GET_START = 32;
const GET_MAX = 4096;
const GIVE_BACK_MS = 50;

interface Ref {
  bridge: string;
  socket: string;
  id: number;
  tag: string;
  info?: Record<string, any>;
  mailbox?: SharedArrayBuffer;
  /** Only in references to a thread of this process: this process's key for `socket`. */
  key?: string;
}

/** This process's keys for brokers (socket -> hex key): set by the child's bootstrap, or from references (threads). */
const keysKey = Symbol.for('conc.process.keys.v1');
/** broker.ts's collector of the sockets a child's args point to. */
const sharingKey = Symbol.for('conc.process.sharing.v1');

function keyFor(socket: string): string | undefined {
  return ((globalThis as any)[keysKey] as Map<string, string> | undefined)?.get(socket);
}

/** Per socket: the largest byteCapacity of its queues seen here (the broker accepts requests of requestCap of it). */
const queueCapacity = new Map<string, number>();

type Waiter = (ok: boolean, value: unknown) => void;
const ABORT = serialize({ k: 'abort' });

class Channel {
  private readonly bc: BroadcastChannel;
  private readonly mb: Int32Array;
  private readonly slot: number;
  private next = 1;
  private readonly waiters = new Map<number, Waiter>();
  private readonly dirty = new Set<QueueState>();
  private flushScheduled = false;
  readonly sockets = new Set<string>();
  readonly queues = new Set<QueueState>();

  constructor(mailbox: SharedArrayBuffer) {
    this.mb = new Int32Array(mailbox);
    const slot = Atomics.add(this.mb, MB_NEXT_SLOT, 1) + MB_FIRST_SLOT;
    if (slot >= MB_WORDS) throw new Error('conc: too many threads use primitives of a parent process');
    this.slot = slot;
    // The bridge thread must be listening before we say hello.
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
    this.bc.onmessage = (e: any) => this.deliver(e.data);
    this.bc.unref();
    // A Thread of the child that ends: acknowledge what it took and give back
    // what it fetched and did not take (the process, and its connection, live
    // on: nothing else would). The child's main thread does this in shutdown().
    if (!isMainThread) process.once('exit', () => this.leave());
  }

  /** The thread is ending: settle every queue it fetched from. */
  private leave(): void {
    for (const st of this.queues) settleQueue(st, true);
    this.flush();
  }

  private deliver(r: { c: number; b: Uint8Array }): void {
    const w = this.waiters.get(r.c);
    if (!w) return;
    this.waiters.delete(r.c);
    if (this.waiters.size === 0) this.bc.unref();
    let reply: any;
    try {
      reply = deserialize(r.b);
    } catch (error) {
      w(false, error);
      return;
    }
    if (reply.ok) w(true, reply.v);
    else {
      const error = reviveError(reply.e);
      if (typeof reply.n === 'number') (error as any).dropped = reply.n;
      w(false, error);
    }
  }

  private post(sock: string, c: number, body: Uint8Array, abort = false): void {
    this.sockets.add(sock);
    this.bc.postMessage(abort ? { s: sock, c, b: body, x: 1 } : { s: sock, c, b: body });
  }

  /** Send a serialized request whose reply goes to `w`; returns its call id. */
  request(sock: string, body: Uint8Array, w: Waiter): number {
    const c = this.next;
    this.next = this.next >= 0x7fffffff ? 1 : this.next + 1;
    const cap = requestCap(queueCapacity.get(sock) ?? 0);
    if (body.length > cap) {
      // The owner would close the connection on it: refuse it here, sending nothing.
      w(
        false,
        new RangeError(
          `conc: a request of ${body.length} bytes is more than the ${cap} bytes the owning process accepts (an item larger than its queue's byteCapacity?); nothing was sent`,
        ),
      );
      return c;
    }
    if (this.waiters.size === 0) this.bc.ref();
    this.waiters.set(c, w);
    this.post(sock, c, body);
    return c;
  }

  /** Block this thread, delivering replies as they come, until `done()`. */
  pumpUntil(done: () => boolean): void {
    let seen = Atomics.load(this.mb, this.slot);
    while (!done()) {
      const m = receiveMessageOnPort(this.bc as any);
      if (m) {
        this.deliver(m.message);
        continue;
      }
      Atomics.wait(this.mb, this.slot, seen, 100);
      seen = Atomics.load(this.mb, this.slot);
    }
  }

  /** Send a request and block until its reply. */
  callSync(sock: string, msg: unknown): unknown {
    const body = serialize(msg);
    this.flush();
    let done = false;
    let ok = false;
    let value: unknown;
    this.request(sock, body, (o, v) => {
      done = true;
      ok = o;
      value = v;
    });
    this.pumpUntil(() => done);
    if (!ok) throw value;
    return value;
  }

  /** Send a request; a Promise of its reply. `signal` aborts it (an 'abort' frame). */
  call(sock: string, msg: unknown, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const body = serialize(msg);
      this.flush();
      let onAbort: (() => void) | undefined;
      const c = this.request(sock, body, (ok, v) => {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        if (ok) resolve(v);
        else reject(signal?.aborted ? signal.reason : v);
      });
      if (signal) {
        onAbort = () => this.post(sock, c, ABORT, true);
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * Send a request whose reply goes to `w` as soon as it is delivered (not a
   * Promise's later tick: replies that bring queue items must be filled in
   * the order the owner lent them, see serve()). `signal` aborts it.
   */
  callNow(sock: string, msg: unknown, signal: AbortSignal, w: Waiter): void {
    const body = serialize(msg);
    this.flush();
    const onAbort = () => this.post(sock, c, ABORT, true);
    const c = this.request(sock, body, (ok, v) => {
      signal.removeEventListener('abort', onAbort);
      w(ok, v);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  }

  /** Fire and forget (acknowledgements). */
  send(sock: string, msg: unknown): void {
    const body = serialize(msg);
    this.flush();
    this.post(sock, 0, body);
  }

  // ---- batched puts ---------------------------------------------------------

  markDirty(st: QueueState): void {
    if (this.dirty.size === 0) Atomics.add(this.mb, MB_BUSY, 1);
    this.dirty.add(st);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  private flushSoon = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Send every pending batch of this thread. */
  flush(): void {
    if (this.dirty.size === 0) return;
    for (const st of this.dirty) this.sendBatch(st);
    this.dirty.clear();
    Atomics.sub(this.mb, MB_BUSY, 1);
  }

  /** Send one queue's batch now (it is full, or old). */
  flushOne(st: QueueState): void {
    this.sendBatch(st);
    if (this.dirty.delete(st) && this.dirty.size === 0) Atomics.sub(this.mb, MB_BUSY, 1);
  }

  private sendBatch(st: QueueState): void {
    let items = st.out;
    if (items.length === 0) return;
    st.out = [];
    let body: Buffer;
    try {
      body = serialize({ k: 'putMany', o: st.ref.id, items });
    } catch {
      // Some item cannot be cloned: send the others, and the put that follows throws.
      items = items.filter((item, i) => {
        try {
          serialize(item);
          return true;
        } catch (error) {
          st.failed ??= new DataCloneError(
            `${st.label}.put: item ${i} of a batch cannot be sent to another process: ${(error as Error).message}; it was not enqueued`,
          );
          return false;
        }
      });
      if (items.length === 0) return;
      body = serialize({ k: 'putMany', o: st.ref.id, items });
    }
    if (body.length > BATCH_BYTES && items.length > 1) {
      // Too big for one request: two batches, in order.
      const half = items.length >> 1;
      st.out = items.slice(0, half);
      this.sendBatch(st);
      st.out = items.slice(half);
      this.sendBatch(st);
      return;
    }
    st.inflight++;
    const seq = ++st.seq;
    Atomics.add(this.mb, MB_BUSY, 1);
    this.request(st.ref.socket, body, (ok, v) => {
      st.inflight--;
      Atomics.sub(this.mb, MB_BUSY, 1);
      if (!ok) refused(st, seq, v as Error);
      while (st.room.length > 0 && st.inflight <= PUT_WINDOW) st.room.shift()!();
    });
  }

  /** Wait (blocking) until `st` has fewer than PUT_WINDOW batches unanswered. */
  waitRoomSync(st: QueueState): void {
    if (st.inflight > PUT_WINDOW) this.pumpUntil(() => st.inflight <= PUT_WINDOW);
  }

  /**
   * Before the thread ends: give back prefetched items, acknowledge what was
   * taken, send pending batches, and wait for every broker to have seen it
   * all. Returns the first queue error no put has surfaced yet.
   */
  async shutdown(): Promise<Error | undefined> {
    await Promise.all([...this.queues].map((st) => st.prefetch));
    for (const st of this.queues) settleQueue(st, true);
    this.flush();
    await Promise.all([...this.sockets].map((sock) => this.call(sock, { k: 'bye' })));
    for (const st of this.queues) {
      const e = report(st, `${st.label}.put`);
      if (e) return e;
    }
    return undefined;
  }
}

const channelKey = Symbol.for('conc.process.channel.v1');

function channel(): Channel {
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

// ---- proxies ----------------------------------------------------------------

const REF = Symbol('conc.process.ref');
const QSTATE = Symbol('conc.process.queue');

interface QueueState {
  ref: Ref;
  label: string;
  // get side
  buf: unknown[];
  at: number;
  unacked: number;
  takes: number;
  window: number;
  lastFull: boolean;
  filledAt: number;
  /** Fetches in flight (prefetches and blocking ones). */
  inFlight: number;
  /** The prefetch in flight: settles when its items are in `buf`. */
  prefetch: Promise<void> | undefined;
  /** Async gets waiting, in order, and whether a blocking fetch is in flight for the first. */
  getters: Getter[];
  fetching: boolean;
  timer: NodeJS.Timeout | undefined;
  // put side
  out: unknown[];
  since: number;
  inflight: number;
  room: (() => void)[];
  /** Batches sent; the last one sent when a refusal was reported. */
  seq: number;
  reportedUpTo: number;
  /** Known shut down: every put throws at once. */
  shut: boolean;
  /** A refusal not reported yet, and how many items refusals dropped since the last report. */
  failed: Error | undefined;
  dropped: number;
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

/**
 * Whether a reply value is conc's encoding (the broker encodes every object
 * result; queue items fetched in bulk are never encoded, and are not passed here).
 */
function hasMarker(v: unknown): boolean {
  return isEncoded(v);
}

/** A result holding primitives of the owner (now references) revived as proxies. */
function resultSync(v: unknown, what: string): unknown {
  if (!hasMarker(v)) return v;
  try {
    return decodeSync(v as never);
  } catch (error) {
    throw new Error(
      `${what} returned a conc primitive whose class is not loaded in this thread: import its package first, or use the async method (${(error as Error).message})`,
    );
  }
}

function resultAsync(v: unknown): unknown {
  return hasMarker(v) ? decode(v as never) : v;
}

function forwardCall(proxy: any, name: string, args: unknown[], kind: 'sync' | 'blocking' | 'async', s: number) {
  const ref = refOf(proxy);
  const what = `${ref.tag.replace(/^conc\./, '')}.${name}`;
  const msg: any = { k: 'call', o: ref.id, m: name, a: args };
  if (kind === 'sync') return resultSync(channel().callSync(ref.socket, msg), what);
  msg.s = s;
  if (kind === 'blocking') {
    splitSignal(args, s);
    return resultSync(channel().callSync(ref.socket, msg), what);
  }
  try {
    const signal = splitSignal(args, s);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return channel().call(ref.socket, msg, signal).then(resultAsync);
  } catch (error) {
    return Promise.reject(error);
  }
}

function queueState(proxy: any): QueueState {
  let st = proxy[QSTATE] as QueueState | undefined;
  if (!st) {
    const ref = refOf(proxy);
    st = {
      ref,
      label: ref.tag === 'conc.JoinableQueue' ? 'JoinableQueue' : 'Queue',
      buf: [],
      at: 0,
      unacked: 0,
      takes: 0,
      window: GET_START,
      lastFull: false,
      filledAt: 0,
      inFlight: 0,
      prefetch: undefined,
      getters: [],
      fetching: false,
      timer: undefined,
      out: [],
      since: 0,
      inflight: 0,
      room: [],
      seq: 0,
      reportedUpTo: 0,
      shut: false,
      failed: undefined,
      dropped: 0,
    };
    Object.defineProperty(proxy, QSTATE, { value: st });
    channel().queues.add(st);
  }
  return st;
}

// ---- queue: puts --------------------------------------------------------------

/**
 * The owner refused batch `seq`. A refusal of a batch sent before the last
 * report (the thread already knows puts on this queue fail) is not reported again.
 */
function refused(st: QueueState, seq: number, error: Error): void {
  const shutDown = error?.name === 'QueueShutDown';
  if (shutDown) st.shut = true;
  if (seq <= st.reportedUpTo) return;
  if (shutDown) st.dropped += (error as any).dropped ?? 0;
  st.failed ??= error;
}

/** The unreported refusal, as `method` throws it; marks it reported. */
function report(st: QueueState, method: string): Error | undefined {
  const e = st.failed;
  if (!e) return undefined;
  st.failed = undefined;
  st.reportedUpTo = st.seq;
  if (e.name !== 'QueueShutDown') return e;
  const n = st.dropped;
  st.dropped = 0;
  return namedError(
    'QueueShutDown',
    `${method}: the queue is shut down (${n} item${n === 1 ? '' : 's'} put in this process ${n === 1 ? 'was' : 'were'} not enqueued)`,
  );
}

/** Throw what an earlier batch ran into (once), or QueueShutDown for good once the queue is known to be shut down. */
function surface(st: QueueState, method: string): void {
  const e = report(st, method);
  if (e) throw e;
  if (st.shut) throw namedError('QueueShutDown', `${method}: the queue is shut down`);
}

function bufferPut(st: QueueState, item: unknown, method: string): void {
  surface(st, method);
  const type = typeof item;
  if (type === 'function' || type === 'symbol') {
    throw new DataCloneError(
      `${method}: the item is a ${type}, which cannot be sent to another process; nothing was enqueued`,
    );
  }
  const n = st.out.push(item);
  const ch = channel();
  if (n === 1) {
    st.since = performance.now();
    ch.markDirty(st);
  } else if (n >= PUT_BATCH || performance.now() - st.since >= PUT_AGE_MS) {
    ch.flushOne(st);
  }
}

const RESOLVED = Promise.resolve();

// ---- queue: gets --------------------------------------------------------------

function take(st: QueueState): unknown {
  const item = st.buf[st.at];
  st.buf[st.at++] = undefined;
  const left = st.buf.length - st.at;
  if (left === 0) {
    st.buf = [];
    st.at = 0;
  }
  st.unacked++;
  st.takes++;
  if (st.unacked >= GET_MAX) settleQueue(st, false);
  if (left > 0) {
    if (left === st.window >> 2 && st.lastFull && st.inFlight === 0) prefetch(st);
    if (!st.timer) armGiveBack(st);
  }
  return item;
}

function fill(st: QueueState, items: unknown[], max: number): void {
  if (st.at === st.buf.length) {
    st.buf = items;
    st.at = 0;
  } else {
    st.buf = st.buf.slice(st.at).concat(items);
    st.at = 0;
  }
  st.lastFull = items.length >= max;
  st.filledAt = performance.now();
}

/** Grow the window while full windows are drained fast; shrink it for a slow consumer. */
function adapt(st: QueueState): void {
  const elapsed = performance.now() - st.filledAt;
  if (st.lastFull && elapsed < 10) st.window = Math.min(GET_MAX, st.window * 2);
  else if (elapsed > 100 && st.filledAt > 0) st.window = Math.max(1, st.window >> 1);
}

function beginFetch(st: QueueState): () => void {
  st.inFlight++;
  return () => {
    st.inFlight--;
  };
}

function getMsg(st: QueueState, options: unknown, wait: boolean): any {
  const msg: any = { k: 'getMany', o: st.ref.id, a: [options ?? {}], max: st.window, ack: st.unacked };
  if (!wait) msg.wait = 0;
  st.unacked = 0;
  return msg;
}

/** Ask for the next window while the consumer drains this one (never waits at the owner). */
function prefetch(st: QueueState): void {
  adapt(st);
  const done = beginFetch(st);
  let settle!: () => void;
  st.prefetch = new Promise<void>((r) => {
    settle = r;
  });
  const max = st.window;
  channel().request(st.ref.socket, serialize(getMsg(st, {}, false)), (ok, v) => {
    if (ok && Array.isArray(v) && v.length > 0) {
      fill(st, v, max);
      if (!st.timer) armGiveBack(st);
    }
    done();
    st.prefetch = undefined;
    settle();
    if (st.getters.length > 0) serve(st);
  });
}

function fetchSync(st: QueueState, options: any, wait: boolean): void {
  const ch = channel();
  if (st.prefetch) {
    ch.pumpUntil(() => st.prefetch === undefined);
    if (st.at < st.buf.length) return;
  }
  adapt(st);
  const max = st.window;
  const msg = getMsg(st, options, wait);
  const done = beginFetch(st);
  try {
    fill(st, ch.callSync(st.ref.socket, msg) as unknown[], max);
  } finally {
    done();
  }
}

/**
 * An async get of this thread waiting for an item. Getters are served in
 * order from the buffer; one blocking fetch at a time is in flight for the
 * first of them (aborted if it leaves: timeout, signal), and whatever it
 * brings serves the next ones too.
 */
interface Getter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** The fetch in flight on this getter's behalf. */
  fetch: AbortController | undefined;
}

function getAsync(st: QueueState, timeout: number | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const g: Getter = { resolve, reject, timer: undefined, signal, onAbort: undefined, fetch: undefined };
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
      g.timer = setTimeout(
        () => leave(st, g, namedError('QueueEmpty', `${st.label}.get: no item within ${timeout} ms`)),
        timeout,
      );
    }
    if (signal) {
      g.onAbort = () => leave(st, g, signal.reason);
      signal.addEventListener('abort', g.onAbort, { once: true });
    }
    st.getters.push(g);
    serve(st);
  });
}

function forget(g: Getter): void {
  if (g.timer) clearTimeout(g.timer);
  if (g.onAbort) g.signal!.removeEventListener('abort', g.onAbort);
}

/** A getter gives up; a fetch on its behalf is aborted (what it still brings serves the others). */
function leave(st: QueueState, g: Getter, error: unknown): void {
  const i = st.getters.indexOf(g);
  if (i < 0) return;
  st.getters.splice(i, 1);
  forget(g);
  g.fetch?.abort(error);
  g.reject(error);
}

/** Hand buffered items to waiting getters, in order; fetch for the first one left. */
function serve(st: QueueState): void {
  while (st.getters.length > 0 && st.at < st.buf.length) {
    const g = st.getters.shift()!;
    forget(g);
    g.resolve(take(st));
  }
  if (st.getters.length === 0 || st.fetching || st.prefetch) return;
  const g = st.getters[0];
  adapt(st);
  const max = st.window;
  const msg = getMsg(st, {}, true);
  const ac = new AbortController();
  g.fetch = ac;
  st.fetching = true;
  const done = beginFetch(st);
  // Filled as the reply is delivered, in order with this thread's other
  // fetches (a getSync's, a prefetch): the owner lent the items in that
  // order, and acknowledges and takes back by counting from the front.
  channel().callNow(st.ref.socket, msg, ac.signal, (ok, v) => {
    if (ok) fill(st, v as unknown[], max);
    else if (!ac.signal.aborted) {
      // Not a getter leaving: the owner said no (shut down and empty, gone): the first getter gets it.
      const h = st.getters.shift();
      if (h) {
        forget(h);
        h.reject(v);
      }
    }
    done();
    st.fetching = false;
    if (g.fetch === ac) g.fetch = undefined;
    serve(st);
    // What it brought for getters that have left (timeout, abort) goes back
    // to the queue if nobody takes it: never stranded in this thread.
    if (!st.timer && st.at < st.buf.length) armGiveBack(st);
  });
}

function armGiveBack(st: QueueState): void {
  const takes = st.takes;
  st.timer = setTimeout(() => {
    st.timer = undefined;
    if (st.at === st.buf.length) return;
    if (st.takes === takes && st.inFlight === 0) settleQueue(st, true);
    else armGiveBack(st);
  }, GIVE_BACK_MS);
  st.timer.unref();
}

/** Acknowledge taken items; with `giveBack`, hand the untaken rest back to the broker. */
function settleQueue(st: QueueState, giveBack: boolean): void {
  const back = giveBack && st.at < st.buf.length;
  if (st.unacked === 0 && !back) return;
  channel().send(st.ref.socket, { k: 'ack', o: st.ref.id, n: st.unacked, back: back ? 1 : undefined });
  st.unacked = 0;
  if (back) {
    st.buf = [];
    st.at = 0;
  }
}

function checkTimeout(options: any, method: string): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${method}: options must be an object`);
  const t = options.timeout;
  if (t !== undefined && t !== Number.POSITIVE_INFINITY && (typeof t !== 'number' || Number.isNaN(t) || t < 0)) {
    throw new RangeError(
      `${method}: timeout must be a non-negative number of milliseconds or Infinity, got ${String(t)}`,
    );
  }
}

function queueOverrides(unbounded: (p: any) => boolean) {
  return {
    put(this: any, item: unknown, options?: any) {
      if (!unbounded(this)) return forwardCall(this, 'put', [item, options], 'async', 1);
      const st = queueState(this);
      try {
        if (options !== undefined) {
          checkTimeout(options, `${st.label}.put`);
          if (options.signal?.aborted) return Promise.reject(options.signal.reason);
        }
        bufferPut(st, item, `${st.label}.put`);
      } catch (error) {
        return Promise.reject(error);
      }
      if (st.inflight <= PUT_WINDOW) return RESOLVED;
      return new Promise<void>((resolve) => st.room.push(resolve));
    },
    putSync(this: any, item: unknown, options?: any) {
      if (!unbounded(this)) return void forwardCall(this, 'putSync', [item, options], 'blocking', 1);
      const st = queueState(this);
      if (options !== undefined) checkTimeout(options, `${st.label}.putSync`);
      bufferPut(st, item, `${st.label}.putSync`);
      channel().waitRoomSync(st);
    },
    putNowait(this: any, item: unknown) {
      if (!unbounded(this)) return void forwardCall(this, 'putNowait', [item], 'sync', 0);
      const st = queueState(this);
      bufferPut(st, item, `${st.label}.putNowait`);
      channel().waitRoomSync(st);
    },
    get(this: any, options?: any) {
      const st = queueState(this);
      let signal: AbortSignal | undefined;
      if (options !== undefined) {
        try {
          checkTimeout(options, `${st.label}.get`);
        } catch (error) {
          return Promise.reject(error);
        }
        signal = options.signal;
        if (signal?.aborted) return Promise.reject(signal.reason);
      }
      if (st.getters.length === 0 && st.at < st.buf.length) return Promise.resolve(take(st));
      return getAsync(st, options?.timeout, signal);
    },
    getSync(this: any, options?: any) {
      const st = queueState(this);
      if (options !== undefined) {
        checkTimeout(options, `${st.label}.getSync`);
        if (options.signal !== undefined) {
          throw new TypeError(`${st.label}.getSync: a blocking call cannot take a signal; use the async method`);
        }
      }
      if (st.at < st.buf.length) return take(st);
      fetchSync(st, options, true);
      const item = take(st);
      if (st.getters.length > 0) serve(st);
      return item;
    },
    getNowait(this: any) {
      const st = queueState(this);
      if (st.at < st.buf.length) return take(st);
      fetchSync(st, {}, false);
      if (st.at < st.buf.length) {
        const item = take(st);
        if (st.getters.length > 0) serve(st);
        return item;
      }
      throw namedError('QueueEmpty', `${st.label}.getNowait: the queue is empty`);
    },
    qsize(this: any) {
      const st = queueState(this);
      return (forwardCall(this, 'qsize', [], 'sync', 0) as number) + (st.buf.length - st.at);
    },
    empty(this: any) {
      const st = queueState(this);
      return st.at === st.buf.length && (forwardCall(this, 'empty', [], 'sync', 0) as boolean);
    },
  };
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
  for (let p = base; p && Object.hasOwn(p, BRAND); p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) all.add(name);
  }
  // Only the public API is forwarded (the broker serves nothing else); other
  // members stay inherited and run on the proxy itself, as composed helpers do.
  const done = new Set<string>();
  for (let p = base; p && Object.hasOwn(p, BRAND); p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || done.has(name) || local.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(p, name)!;
      if (d.get ? !isPublicGetter(rule, name) : !isPublicMethod(rule, name)) continue;
      done.add(name);
      if (d.get) {
        Object.defineProperty(proto, name, {
          configurable: true,
          get(this: any) {
            const ref = refOf(this);
            const value = channel().callSync(ref.socket, { k: 'call', o: ref.id, m: name, a: [], g: 1 });
            return resultSync(value, `${ref.tag.replace(/^conc\./, '')}.${name}`);
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
  if (!local.has('toString')) {
    // The class's own toString may read raw words, which a proxy has not.
    const label = entry.tag.replace(/^conc\./, '');
    Object.defineProperty(proto, 'toString', {
      configurable: true,
      writable: true,
      value: {
        toString() {
          return `${label}(served by another process)`;
        },
      }.toString,
    });
  }
  if (rule.queue) {
    const unbounded = (p: any) => !(refOf(p).info?.maxsize > 0);
    for (const [name, fn] of Object.entries(queueOverrides(unbounded))) {
      if (name in base) Object.defineProperty(proto, name, { configurable: true, writable: true, value: fn });
    }
  }
  Object.defineProperty(proto, REMOTE, {
    value(this: any, destination: string) {
      const ref = refOf(this);
      const out: Ref = { bridge: bridgeUrl, socket: ref.socket, id: ref.id, tag: ref.tag, info: ref.info };
      if (destination === 'thread') {
        // Within this process: the thread may start a Process of its own and must pass the key on.
        out.mailbox = (globalThis as any)[mailboxKey];
        const key = keyFor(ref.socket);
        if (key !== undefined) out.key = key;
      } else {
        // To a child process: its key for this socket goes in its boot message (Process.start), not here.
        (globalThis as any)[sharingKey]?.add(ref.socket);
      }
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
  if (typeof ref.key === 'string') {
    const g = globalThis as any;
    const keys: Map<string, string> = (g[keysKey] ??= new Map());
    if (!keys.has(ref.socket)) keys.set(ref.socket, ref.key);
  }
  const cap = ref.info?.byteCapacity;
  if (typeof cap === 'number' && cap > (queueCapacity.get(ref.socket) ?? 0)) queueCapacity.set(ref.socket, cap);
  const proxy = Object.create(protoFor(entry));
  Object.defineProperty(proxy, REF, { value: ref });
  // Facts the class keeps as own properties (a queue's maxsize, a Condition's lock).
  for (const [k, v] of Object.entries(ref.info ?? {})) {
    Object.defineProperty(proxy, k, {
      value: isEncoded(v) ? decodeSync(v) : v,
      enumerable: true,
    });
  }
  proxies.set(key, proxy);
  return proxy;
}

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
 * Child bootstrap, when the target is done: flush and say goodbye to every
 * broker this thread used, after the process's other threads have sent (and
 * had answered) their batched puts (waiting at most `patience` ms for them).
 * Throws the first queue error no put surfaced.
 */
export async function shutdownThread(patience = 2000): Promise<void> {
  const ch = (globalThis as any)[channelKey] as Channel | undefined;
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
