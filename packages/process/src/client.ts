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
 * Options are checked here, before anything is sent, with the function a
 * thread's call uses (@conc/core's checkWaitOptions; a Sync method refuses a
 * signal with TypeError): a bad call throws (or rejects) what it would in a
 * thread and changes nothing. An error the owner's `x` raises for a child's
 * `xSync` names `xSync`, as in a thread.
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
 * with receiveMessageOnPort. A message posted to the bridge is on its way:
 * the bridge thread writes it to the socket whatever this thread does next.
 *
 * Queues (Python's feeder thread is the model for puts; the owner's queue
 * stays the one place items are):
 *   - put / putSync / putNowait on an unbounded queue post the item to the
 *     bridge at once, one frame per put ('putMany' of one item): a put that
 *     returned is on its way, without waiting for this thread's event loop.
 *     Most puts want no reply; one asks for an answer when none is
 *     outstanding, or after ASK_EVERY puts that did not, and a tail ask
 *     (an empty 'putMany') covers the last ones at the next event-loop turn
 *     and before the thread ends. While more than PUT_WINDOW asks are
 *     unanswered the put waits (put: a Promise; putSync and putNowait:
 *     blocking): the parent's queue is full of bytes, or its broker is behind.
 *     An item of at least a quarter of the queue's byteCapacity goes as a
 *     call instead (answered: a refusal comes from its own put, worded by
 *     the owner's queue, as a thread's is).
 *   - The owner notes a refusal of a put (shut down; an item it cannot hold)
 *     and answers the next ask with it: the thread's next put on that queue
 *     throws that error and, once the queue is known to be shut down, every
 *     later put throws QueueShutDown at once. An error no put surfaced makes
 *     the child's target fail with it when it returns (join rejects): no put
 *     is dropped silently. An item that cannot be cloned, or that holds a
 *     conc primitive, is refused here by its own put (DataCloneError,
 *     @conc/core's wording, as a thread's).
 *   - Bounded queues (maxsize > 0) forward every put as a call (Python's
 *     exact QueueFull and timeout behaviour).
 *   - get / getSync / getNowait move one item each, in one round trip: no
 *     item is fetched ahead, so what no get has taken is in the owner's
 *     queue, counted by qsize() and takeable by anyone. The owner lends the
 *     item (books it under a lend id for this thread); this thread
 *     acknowledges it as it takes it, before the get returns or resolves
 *     ('ack', posted to the bridge, so it leaves even if the thread then
 *     spins or is killed an instant later), so a taken item is never
 *     delivered again. getSync's timeout is the owner's. Concurrent async
 *     gets of one thread wait in line (Getter), served in order by one
 *     request at a time; a get's timeout (a long timer here) and signal
 *     are handled here, and an item that comes when nobody waits goes back
 *     ('ack' back: to the queue's tail). A child Thread that ends aborts
 *     its pending get and hands back whatever is lent to it ('ack' all). A
 *     dead child's lent items go back (the broker's books): only items it
 *     had not taken.
 */
import { deserialize, serialize } from 'node:v8';
import { BroadcastChannel, SHARE_ENV, Worker, isMainThread, receiveMessageOnPort, threadId } from 'node:worker_threads';
import {
  BRAND,
  DataCloneError,
  type LongTimeout,
  REMOTE,
  type ShareEntry,
  checkSyncWaitOptions,
  checkWaitOptions,
  decode,
  decodeSync,
  isEncoded,
  primitiveItemMessage,
  setLongTimeout,
  setRemoteReviver,
  uncloneableItemMessage,
} from '@conc/core';
import { namedError, reviveError } from './errors.js';
import { isPublicGetter, isPublicMethod, ruleOf } from './remote.js';
import { MB_BUSY, MB_FIRST_SLOT, MB_NEXT_SLOT, MB_READY, MB_WORDS, REQUEST_CAP_MIN, requestCap } from './wire.js';

const mailboxKey = Symbol.for('conc.process.mailbox.v1');
const bridgeUrl = require('node:url').pathToFileURL(__filename).href as string;

/** Puts: one in ASK_EVERY (at least) asks for an answer; wait while more than PUT_WINDOW asks are unanswered. */
const ASK_EVERY = 256;
const PUT_WINDOW = 8;
/** A Thread that ends waits at most this long for its puts to be confirmed. */
const LEAVE_PATIENCE_MS = 2000;

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

/** A reply: ok and its value (or the error); `lend`: the lend id of a queue item it brings. */
type Waiter = (ok: boolean, value: unknown, lend?: number) => void;
const ABORT = serialize({ k: 'abort' });

class Channel {
  private readonly bc: BroadcastChannel;
  private readonly mb: Int32Array;
  private readonly slot: number;
  private next = 1;
  private readonly waiters = new Map<number, Waiter>();
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
    // A Thread of the child that ends: settle every queue it used (the
    // process, and its connection, live on: nothing else would). The child's
    // main thread does this in shutdown().
    if (!isMainThread) process.once('exit', () => this.leave());
  }

  /** The thread is ending: give up its gets, send its last asks, and wait (a little) for its puts to be confirmed. */
  private leave(): void {
    for (const st of this.queues) leaveQueue(st);
    const end = Date.now() + LEAVE_PATIENCE_MS;
    this.pumpUntil(() => Date.now() > end || [...this.queues].every((st) => !st.busy));
  }

  /** This thread has puts not yet confirmed (+1) or no longer has (-1) on one more queue. */
  busy(delta: 1 | -1): void {
    Atomics.add(this.mb, MB_BUSY, delta);
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
    if (reply.ok) w(true, reply.v, reply.l);
    else {
      const error = reviveError(reply.e);
      if (typeof reply.n === 'number') (error as any).dropped = reply.n;
      w(false, error);
    }
  }

  /** Post a frame to the bridge: `c` 0 wants no reply; `abort`: abort call `c`. */
  post(sock: string, c: number, body: Uint8Array, abort = false): void {
    this.sockets.add(sock);
    this.bc.postMessage(abort ? { s: sock, c, b: body, x: 1 } : { s: sock, c, b: body });
  }

  /** Send a serialized request whose reply goes to `w` (as it is delivered); returns its call id. */
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
        this.deliver(m.message);
        continue;
      }
      Atomics.wait(this.mb, this.slot, seen, 100);
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
  callSync(sock: string, msg: unknown): unknown {
    const [ok, value] = this.requestSync(sock, serialize(msg));
    if (!ok) throw value;
    return value;
  }

  /** Send a request; a Promise of its reply. `signal` aborts it (an 'abort' frame). */
  call(sock: string, msg: unknown, signal?: AbortSignal): Promise<unknown> {
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
  send(sock: string, msg: unknown): void {
    this.post(sock, 0, serialize(msg));
  }

  /**
   * Before the thread ends: ask for the last puts to be confirmed, and wait
   * for every broker to have seen it all. Returns the first queue error no
   * put has surfaced yet.
   */
  async shutdown(): Promise<Error | undefined> {
    for (const st of this.queues) if (st.unasked > 0) ask(st, tailBody(st));
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
  /** A put whose frame is at least this big goes as a call (a quarter of byteCapacity). */
  big: number;
  // put side
  /** Puts sent wanting no reply since the last that asked. */
  unasked: number;
  /** Puts that asked for an answer and have none yet. */
  asks: number;
  /** Counted in the mailbox's MB_BUSY: puts not yet confirmed. */
  busy: boolean;
  /** A tail ask is scheduled (setImmediate). */
  tail: boolean;
  room: (() => void)[];
  /** Asks sent; the last one sent when a refusal was reported. */
  seq: number;
  reportedUpTo: number;
  /** Known shut down: every put throws at once. */
  shut: boolean;
  /** A refusal not reported yet, and how many items refusals dropped since the last report. */
  failed: Error | undefined;
  dropped: number;
  // get side
  /** Async gets waiting, in the order they were made. */
  line: Getter[];
  /** The line's request in flight (its call id; 0: none), and whether it was aborted. */
  asking: number;
  aborted: boolean;
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

/** The owner ran `from` for a call of `to` (`x` for `xSync`): say `to` in its error, as a thread's call would. */
function relabel(error: unknown, from: string, to: string): unknown {
  if (from === to || !(error instanceof Error) || !error.message.startsWith(`${from}:`)) return error;
  const message = `${to}${error.message.slice(from.length)}`;
  if (typeof error.stack === 'string') error.stack = error.stack.replace(error.message, message);
  error.message = message;
  return error;
}

/**
 * Whether a reply value is conc's encoding (the broker encodes every object
 * result; queue items are never encoded, and are not passed here).
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

/**
 * Forward a call of `name` to the owner. `pair`: a waiting method of an
 * x / xSync pair, whose options (at `s`) are checked here first.
 */
function forwardCall(
  proxy: any,
  name: string,
  args: unknown[],
  kind: 'sync' | 'blocking' | 'async',
  s: number,
  pair = false,
) {
  const ref = refOf(proxy);
  const label = ref.tag.replace(/^conc\./, '');
  const what = `${label}.${name}`;
  const msg: any = { k: 'call', o: ref.id, m: name, a: args };
  if (kind === 'sync') return resultSync(channel().callSync(ref.socket, msg), what);
  msg.s = s;
  if (kind === 'blocking') {
    if (pair) checkSyncWaitOptions(args[s] as any, what);
    splitSignal(args, s);
    try {
      return resultSync(channel().callSync(ref.socket, msg), what);
    } catch (error) {
      throw relabel(error, `${label}.${name.slice(0, -4)}`, what);
    }
  }
  try {
    if (pair && args[s] !== undefined) checkWaitOptions(args[s] as any, what);
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
    const capacity = ref.info?.byteCapacity;
    st = {
      ref,
      label: ref.tag === 'conc.JoinableQueue' ? 'JoinableQueue' : 'Queue',
      // Unknown capacity: still far below what a broker accepts in one request (wire.ts requestCap).
      big: typeof capacity === 'number' && capacity > 0 ? capacity / 4 : REQUEST_CAP_MIN / 4,
      unasked: 0,
      asks: 0,
      busy: false,
      tail: false,
      room: [],
      seq: 0,
      reportedUpTo: 0,
      shut: false,
      failed: undefined,
      dropped: 0,
      line: [],
      asking: 0,
      aborted: false,
    };
    Object.defineProperty(proxy, QSTATE, { value: st });
    channel().queues.add(st);
  }
  return st;
}

// ---- queue: puts --------------------------------------------------------------

/**
 * The owner refused puts covered by ask `seq` (`n` items dropped by a
 * shutdown; `shut`: the queue is shut down). A refusal of puts sent before
 * the last report (the thread already knows puts on this queue fail) is not
 * reported again.
 */
function refused(st: QueueState, seq: number, error: Error, n = 0, shut = error?.name === 'QueueShutDown'): void {
  if (shut) st.shut = true;
  if (seq <= st.reportedUpTo) return;
  st.dropped += n;
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

/** Throw what an earlier put ran into (once), or QueueShutDown for good once the queue is known to be shut down. */
function surface(st: QueueState, method: string): void {
  const e = report(st, method);
  if (e) throw e;
  if (st.shut) throw namedError('QueueShutDown', `${method}: the queue is shut down`);
}

/** The DataCloneError a thread's `method` throws for `item` before serializing it (a function, a symbol, a conc primitive), if any. */
function itemRefusal(item: unknown, method: string): DataCloneError | undefined {
  const type = typeof item;
  if (type === 'function' || type === 'symbol') return new DataCloneError(uncloneableItemMessage(item, method));
  const m = type === 'object' && item !== null ? primitiveItemMessage(item, method) : undefined;
  return m ? new DataCloneError(m) : undefined;
}

/** Serialize `value` (holding the item), or throw the DataCloneError a thread's `method` throws for `item`. */
function serializeItem(value: unknown, item: unknown, method: string): Buffer {
  const refusal = itemRefusal(item, method);
  if (refusal) throw refusal;
  try {
    return serialize(value);
  } catch (error) {
    throw new DataCloneError(uncloneableItemMessage(item, method, error as Error));
  }
}

function tailBody(st: QueueState): Buffer {
  return serialize({ k: 'putMany', o: st.ref.id, items: [] });
}

/** Send a put that asks for an answer (with what the owner refused since the last answer). */
function ask(st: QueueState, body: Uint8Array): void {
  const seq = ++st.seq;
  st.asks++;
  st.unasked = 0;
  const ch = channel();
  ch.request(st.ref.socket, body, (ok, v: any) => {
    st.asks--;
    if (!ok) refused(st, seq, v as Error);
    else if (v) refused(st, seq, reviveError(v.e), v.n, v.s);
    if (st.busy && st.asks === 0 && st.unasked === 0) {
      st.busy = false;
      ch.busy(-1);
    }
    while (st.room.length > 0 && st.asks <= PUT_WINDOW) st.room.shift()!();
  });
}

function tailAsk(st: QueueState): void {
  st.tail = false;
  if (st.unasked > 0) ask(st, tailBody(st));
}

/** Post one put to the bridge now: it is on its way before the put returns. */
function sendPut(st: QueueState, body: Uint8Array): void {
  const ch = channel();
  if (!st.busy) {
    st.busy = true;
    ch.busy(1);
  }
  if (st.asks === 0 || st.unasked >= ASK_EVERY) {
    ask(st, body);
    return;
  }
  ch.post(st.ref.socket, 0, body);
  st.unasked++;
  if (!st.tail) {
    st.tail = true;
    setImmediate(tailAsk, st);
  }
}

/** Wait (blocking) until `st` has at most PUT_WINDOW asks unanswered. */
function waitRoomSync(st: QueueState): void {
  if (st.asks > PUT_WINDOW) channel().pumpUntil(() => st.asks <= PUT_WINDOW);
}

const RESOLVED = Promise.resolve();

/** A put on a bounded queue: checked here (options, then the item), then forwarded as a call. */
function boundedPut(proxy: any, name: 'put' | 'putSync' | 'putNowait', item: unknown, options?: unknown) {
  const label = refOf(proxy).tag === 'conc.JoinableQueue' ? 'JoinableQueue' : 'Queue';
  const method = `${label}.${name}`;
  if (name === 'putNowait') {
    serializeItem(item, item, method);
    return forwardCall(proxy, name, [item], 'sync', 0);
  }
  if (name === 'putSync') {
    checkSyncWaitOptions(options as any, method);
    serializeItem(item, item, method);
    return forwardCall(proxy, name, [item, options], 'blocking', 1, true);
  }
  try {
    if (options !== undefined) checkWaitOptions(options as any, method);
    serializeItem(item, item, method);
  } catch (error) {
    return Promise.reject(error);
  }
  return forwardCall(proxy, name, [item, options], 'async', 1, true);
}

// ---- queue: gets --------------------------------------------------------------

/** This thread has taken lent item `lend`: it is never delivered again. */
function taken(st: QueueState, lend: number | undefined): void {
  if (lend !== undefined) channel().send(st.ref.socket, { k: 'ack', o: st.ref.id, l: lend });
}

/** Lent item `lend` came for a get that has given up: back to the queue. */
function giveBack(st: QueueState, lend: number | undefined): void {
  if (lend !== undefined) channel().send(st.ref.socket, { k: 'ack', o: st.ref.id, l: lend, back: 1 });
}

function getMsg(st: QueueState, timeout: number | undefined, wait: boolean): Buffer {
  const options = timeout === undefined ? {} : { timeout };
  return serialize(
    wait ? { k: 'getMany', o: st.ref.id, a: [options] } : { k: 'getMany', o: st.ref.id, a: [options], wait: 0 },
  );
}

/** getSync / getNowait: one round trip, blocking; the item is acknowledged before it is returned. */
function getBlocking(st: QueueState, timeout: number | undefined, wait: boolean, method: string): unknown {
  const [ok, value, lend] = channel().requestSync(st.ref.socket, getMsg(st, timeout, wait));
  if (!ok) throw relabel(value, `${st.label}.get`, method);
  taken(st, lend);
  return value;
}

/**
 * An async get of this thread waiting for an item. Concurrent async gets of
 * one thread wait in line, served in the order they were made: one request
 * at a time is in flight, for the first of them, and what it brings goes to
 * the first getter still waiting (or back to the queue if none is). A getter
 * that leaves (its signal; its timeout, a long timer here) while it is not
 * first just leaves. The first one aborts the request: on a signal it
 * leaves at once (an item the request still brings serves the next); on its
 * timeout it waits for the request's answer, and an item it still brings is
 * its own (the owner had one by the deadline), else QueueEmpty.
 */
interface Getter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: LongTimeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Timed out while first: rejected with this once the request is answered, unless it brings an item. */
  expired: Error | undefined;
}

function getAsync(st: QueueState, timeout: number | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const g: Getter = { resolve, reject, timer: undefined, signal, onAbort: undefined, expired: undefined };
    st.line.push(g);
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
      g.timer = setLongTimeout(() => expire(st, g, timeout), timeout);
    }
    if (signal) {
      g.onAbort = () => leave(st, g, signal.reason);
      signal.addEventListener('abort', g.onAbort, { once: true });
    }
    if (st.asking === 0) fetchFor(st);
  });
}

/** Send the line's request, for its first getter. */
function fetchFor(st: QueueState): void {
  st.aborted = false;
  st.asking = channel().request(st.ref.socket, getMsg(st, undefined, true), (ok, v, lend) => answered(st, ok, v, lend));
}

function forget(g: Getter): void {
  g.timer?.clear();
  if (g.onAbort) g.signal!.removeEventListener('abort', g.onAbort);
}

function abortFetch(st: QueueState): void {
  if (st.asking === 0 || st.aborted) return;
  st.aborted = true;
  channel().abort(st.ref.socket, st.asking);
}

/** A getter's signal aborted: it leaves at once (if it was first, the request is aborted). */
function leave(st: QueueState, g: Getter, reason: unknown): void {
  const i = st.line.indexOf(g);
  if (i < 0) return;
  st.line.splice(i, 1);
  forget(g);
  if (i === 0 && !g.expired) abortFetch(st);
  g.reject(reason);
}

function expire(st: QueueState, g: Getter, timeout: number): void {
  g.timer = undefined;
  const i = st.line.indexOf(g);
  if (i < 0) return;
  const error = namedError('QueueEmpty', `${st.label}.get: no item within ${timeout} ms`);
  if (i === 0 && st.asking !== 0) {
    g.expired = error; // settled by the answer
    abortFetch(st);
    return;
  }
  st.line.splice(i, 1);
  forget(g);
  g.reject(error);
}

/** The answer to the line's request: an item for the first getter waiting (or back to the queue), or an error. */
function answered(st: QueueState, ok: boolean, v: unknown, lend: number | undefined): void {
  const aborted = st.aborted;
  st.asking = 0;
  st.aborted = false;
  const g = st.line.shift();
  if (g) forget(g);
  if (ok) {
    if (g) {
      taken(st, lend);
      g.resolve(v);
    } else giveBack(st, lend);
  } else if (g) {
    if (g.expired) g.reject(g.expired);
    else if (aborted)
      st.line.unshift(g); // aborted for a getter that has left: this one is still waiting
    else g.reject(v); // the owner said no (shut down and empty)
  }
  if (st.line.length > 0) fetchFor(st);
}

/** A Thread that ends: abort its pending gets, ask for its last puts, hand back what is lent to it. */
function leaveQueue(st: QueueState): void {
  const ch = channel();
  abortFetch(st);
  if (st.unasked > 0) ask(st, tailBody(st));
  ch.send(st.ref.socket, { k: 'ack', o: st.ref.id, all: 1 });
}

function queueOverrides(unbounded: (p: any) => boolean) {
  return {
    put(this: any, item: unknown, options?: any) {
      if (!unbounded(this)) return boundedPut(this, 'put', item, options);
      const st = queueState(this);
      const method = `${st.label}.put`;
      try {
        if (options !== undefined) {
          checkWaitOptions(options, method);
          if (options.signal?.aborted) return Promise.reject(options.signal.reason);
        }
        const body = serializeItem({ k: 'putMany', o: st.ref.id, items: [item] }, item, method);
        surface(st, method);
        if (body.length >= st.big) return forwardCall(this, 'put', [item, options], 'async', 1, true);
        sendPut(st, body);
      } catch (error) {
        return Promise.reject(error);
      }
      if (st.asks <= PUT_WINDOW) return RESOLVED;
      return new Promise<void>((resolve) => st.room.push(resolve));
    },
    putSync(this: any, item: unknown, options?: any) {
      if (!unbounded(this)) return void boundedPut(this, 'putSync', item, options);
      const st = queueState(this);
      const method = `${st.label}.putSync`;
      checkSyncWaitOptions(options, method);
      const body = serializeItem({ k: 'putMany', o: st.ref.id, items: [item] }, item, method);
      surface(st, method);
      if (body.length >= st.big) return void forwardCall(this, 'putSync', [item, options], 'blocking', 1, true);
      sendPut(st, body);
      waitRoomSync(st);
    },
    putNowait(this: any, item: unknown) {
      if (!unbounded(this)) return void boundedPut(this, 'putNowait', item);
      const st = queueState(this);
      const method = `${st.label}.putNowait`;
      const body = serializeItem({ k: 'putMany', o: st.ref.id, items: [item] }, item, method);
      surface(st, method);
      if (body.length >= st.big) return void forwardCall(this, 'putNowait', [item], 'sync', 0);
      sendPut(st, body);
      waitRoomSync(st);
    },
    get(this: any, options?: any) {
      const st = queueState(this);
      let signal: AbortSignal | undefined;
      if (options !== undefined) {
        try {
          checkWaitOptions(options, `${st.label}.get`);
        } catch (error) {
          return Promise.reject(error);
        }
        signal = options.signal;
        if (signal?.aborted) return Promise.reject(signal.reason);
      }
      return getAsync(st, options?.timeout, signal);
    },
    getSync(this: any, options?: any) {
      const st = queueState(this);
      const method = `${st.label}.getSync`;
      checkSyncWaitOptions(options, method);
      return getBlocking(st, options?.timeout, true, method);
    },
    getNowait(this: any) {
      const st = queueState(this);
      return getBlocking(st, undefined, false, `${st.label}.getNowait`);
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
      let pair = false;
      if (name.endsWith('Sync') && all.has(name.slice(0, -4))) {
        kind = 'blocking';
        s = optionsIndex(base, name.slice(0, -4));
        pair = true;
      } else if (all.has(`${name}Sync`) || fn.constructor?.name === 'AsyncFunction') {
        kind = 'async';
        s = optionsIndex(base, name);
        pair = all.has(`${name}Sync`);
      }
      Object.defineProperty(proto, name, {
        configurable: true,
        writable: true,
        value: {
          [name](this: any, ...args: unknown[]) {
            return forwardCall(this, name, args, kind, s, pair);
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
 * Child bootstrap, when the target is done: have this thread's puts
 * confirmed and say goodbye to every broker it used, after the process's
 * other threads have had theirs confirmed (waiting at most `patience` ms for them).
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
