/**
 * The broker thread: serves this process's primitives to child processes
 * over a Unix domain socket (frames: wire.ts). It runs in a worker thread of
 * the owning process, so it keeps serving while the owner's main thread is
 * blocked in a Sync call or busy computing, and it operates on the very
 * SharedArrayBuffer words the owner and its threads use.
 *
 * Algorithm, per connection (one per child process, or per grandchild that
 * was handed a reference):
 *   - Requests are started in arrival order. A call runs the real method on
 *     the revived primitive; a child's `xSync` runs the async `x` here (this
 *     thread never blocks), with an AbortSignal of the broker's inserted in
 *     its options so a disconnect can abort it. A child's own abort arrives
 *     as an 'abort' frame for the call.
 *   - Each call runs "as" a token of the calling child thread (negative
 *     Int32s, one per (connection, child threadId), never reused), through
 *     core's token source backed by AsyncLocalStorage: RLock ownership is per
 *     child thread, and an await inside a method keeps the caller's token.
 *   - Puts ('putMany', an unbounded queue's puts from one child thread,
 *     one frame per put, sent by the child as each put is made) go in with
 *     putNowait, synchronously. If the queue is full (of bytes), the rest
 *     goes in with an awaited put, and until it is all in, the same child
 *     thread's later requests wait here, in order: a put behaves as the
 *     blocking put it stands for, and what the thread did next cannot
 *     overtake it. Most puts want no reply (call id 0); a refusal of one
 *     (shut down; an item the queue cannot hold) is noted per child thread
 *     and queue, and the next put that asks for a reply (the child asks
 *     every so often, and before it ends) is answered with what was noted
 *     since the last answer, { e, n, s }, or nothing.
 *   - Gets ('getMany') move one item: taken at once (getNowait, `wait: 0`)
 *     or with an async get on the child's options (its timeout is the
 *     owner's). The item is lent: booked under a lend id with the calling
 *     child thread, and sent with that id. The child acknowledges it
 *     ('ack' { l }) as it takes it, before its get returns; a get the child
 *     gave up on in the meantime hands it back ('ack' { l, back: 1 }, put
 *     back at the tail). Acknowledgements are facts about the past: they are
 *     handled on arrival, even while the thread's other requests are held.
 *     A child Thread that ends sends 'ack' { all: 1 }: what is lent to it
 *     goes back, and so does whatever a get still pending for it brings.
 *   - Holdings, broker-wide: which connection took a `Lock` (through this
 *     broker) and has not released it, whoever releases it (any process may
 *     release a Lock, as in Python, and the release clears the holding). A
 *     Condition's wait lets go of its lock and takes it back (rule
 *     `relocks`): while it waits, the waiter is not a holder; a wait that
 *     settles (notified, timed out, or aborted: it always takes the lock
 *     back first) makes it one again. RLock ownership is real (tokens).
 *     Semaphore permits are not owned, so not booked: a permit taken stays
 *     taken, whoever took it and however they ended (Python's semantics).
 *   - On disconnect (exit, throw, SIGKILL: the kernel closes the socket):
 *     abort every pending call (core's abort semantics: an aborted acquire
 *     holds nothing, an aborted get takes nothing), give them a moment to
 *     settle, then release what the connection held: a Lock / RLock with
 *     `releaseAbandoned` (the next holder sees `abandoned === true`), lent
 *     queue items put back (a shutdown without `immediate` does not refuse
 *     them). A call that completes after the disconnect undoes itself, for
 *     a child that never learnt of it: an acquire's lock or permit is given
 *     back, an aborted Condition wait lets go of the lock it took back (the
 *     dead child was waiting, not holding: not flagged), a get's item goes
 *     back. Puts still in progress are completed (the child did put them).
 *   - Results go back by value; a result that is (or holds) a conc
 *     primitive is registered here and goes back as a reference to it.
 *   - A malformed or unknown request gets an error reply and the connection
 *     keeps being served; a frame with an absurd length closes only that
 *     connection.
 *
 * The connection layer (who gets in, how much it may send, what it may ask):
 *   - Admission: the first frame must be a key registered by the owner for
 *     one of its children (broker.ts), exactly KEY_BYTES long, compared
 *     with crypto.timingSafeEqual against every live key. Until then at
 *     most that one frame is buffered and nothing is parsed; a wrong or
 *     missing key, a first frame of another length, or no key within 5 s
 *     closes the connection without a word. Once admitted, an empty frame
 *     says so.
 *   - Size: a request frame is capped (wire.ts requestCap: a few MiB, or
 *     room for the largest item a queue served here can hold); a larger
 *     announced length closes the connection as soon as its 4 bytes are in.
 *     Bytes are buffered as a list of chunks (linear, whatever the size).
 *   - Fairness: a connection gets a bounded turn (FRAMES_PER_TURN frames or
 *     BYTES_PER_TURN bytes of bodies); what is left waits for the next
 *     turn of the event loop with the socket paused, so other connections
 *     are read in between. A connection that does not read its replies
 *     (more than WRITE_HIGH bytes queued) is not read either until they
 *     drain.
 *   - Only the public API: a call or property read names a method or getter
 *     of its class's allow-list (remote.ts), the queue requests go to queues
 *     only; anything else gets a TypeError reply and has no effect.
 *   - Error replies carry the error's name, message, code and own scalar
 *     properties, never its stack (errors.ts peerError).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { timingSafeEqual } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { type Encoded, decode, encode, setProcessSharer, setThreadTokenSource } from '@conc/core';
import { peerError } from './errors.js';
import { describeForChild, isOwnedLock, isPublicGetter, isPublicMethod, ruleOf } from './remote.js';
import { AUTH_LENGTH, FrameReader, FrameWriter, KEY_BYTES, requestCap } from './wire.js';

const { socket: socketPath, port } = workerData as { socket: string; port: MessagePort };

const als = new AsyncLocalStorage<number>();
setThreadTokenSource(() => als.getStore());

interface Rec {
  id: number;
  obj: any;
  tag: string;
}
const objects = new Map<number, Rec | Promise<Rec>>();

/** The keys of the owner's live children (broker.ts keysForChild). */
const keys: Buffer[] = [];
/** The largest byteCapacity of a queue served here: requests up to requestCap(it) are accepted. */
let largestQueue = 0;

function noteCapacity(cap: unknown): void {
  if (typeof cap === 'number' && cap > largestQueue) largestQueue = cap;
}

/** A message from the owner's thread: a registration, a new key, or a key to forget. */
function fromOwner(msg: any): void {
  if (typeof msg?.key === 'string') keys.push(Buffer.from(msg.key, 'hex'));
  else if (typeof msg?.revoke === 'string') {
    const gone = Buffer.from(msg.revoke, 'hex');
    const i = keys.findIndex((k) => k.equals(gone));
    if (i >= 0) keys.splice(i, 1);
  } else register(msg);
}

function drainOwner(): void {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) fromOwner(m.message);
}

function register(msg: { id: number; tag: string; marker: unknown; cap?: number }): void {
  noteCapacity(msg.cap);
  const p = decode(msg.marker as Encoded).then(
    (obj) => {
      const rec = { id: msg.id, obj, tag: msg.tag };
      objects.set(msg.id, rec);
      return rec;
    },
    (error) => {
      objects.delete(msg.id);
      throw error;
    },
  );
  p.catch(() => {});
  objects.set(msg.id, p);
}
port.on('message', fromOwner);

function lookup(id: unknown): Rec | Promise<Rec> | undefined {
  if (typeof id !== 'number') return undefined;
  let r = objects.get(id);
  if (r === undefined) {
    drainOwner();
    r = objects.get(id);
  }
  return r;
}

// Results that are primitives: registered here, under ids the owner's thread never hands out.
const bridgeUrl = pathToFileURL(join(__dirname, 'client.cjs')).href;
const LOCAL_IDS = 2 ** 30;
const localIds = new WeakMap<object, number>();
let nextLocal = LOCAL_IDS;
setProcessSharer((value, entry) => {
  const obj = value as object;
  let id = localIds.get(obj);
  const info = describeForChild(entry.tag, obj);
  if (id === undefined) {
    id = ++nextLocal;
    localIds.set(obj, id);
    objects.set(id, { id, obj, tag: entry.tag });
    noteCapacity(info?.byteCapacity);
  }
  return { bridge: bridgeUrl, socket: socketPath, id, tag: entry.tag, info };
});

// The identity of a primitive's state (two revived objects over the same words are one primitive).
const bufferIds = new WeakMap<object, number>();
let nextBuffer = 0;
function keyOf(obj: any, fallback: number): string {
  const w = obj?.words;
  if (!(w instanceof Int32Array)) return `#${fallback}`;
  let id = bufferIds.get(w.buffer);
  if (id === undefined) bufferIds.set(w.buffer, (id = ++nextBuffer));
  return `${id}:${w.byteOffset}`;
}

/** Plain Locks: the connection that took each one through this broker and has not released it. */
const lockHolders = new Map<string, Conn>();

let nextToken = 0;

function errorBody(error: unknown): Buffer {
  const n = (error as { dropped?: unknown })?.dropped;
  return serialize(typeof n === 'number' ? { ok: false, e: peerError(error), n } : { ok: false, e: peerError(error) });
}

/** Is `presented` the key of one of the owner's children? (every key compared, in constant time each) */
function admits(presented: Buffer): boolean {
  if (presented.length !== KEY_BYTES) return false;
  let found = false;
  for (const k of keys) if (timingSafeEqual(k, presented)) found = true;
  if (!found) {
    drainOwner(); // a key registered just before its child's boot message went out
    for (const k of keys) if (timingSafeEqual(k, presented)) found = true;
  }
  return found;
}

/** The largest request frame accepted now (drains the owner's registrations first if `len` is above it). */
function maxRequest(len: number): number {
  if (len > requestCap(largestQueue)) drainOwner();
  return requestCap(largestQueue);
}

const AUTH_TIMEOUT_MS = 5000;
const FRAMES_PER_TURN = 256;
const BYTES_PER_TURN = 1024 * 1024;
const WRITE_HIGH = 16 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isShutDown(error: unknown): boolean {
  return error instanceof Error && error.name === 'QueueShutDown';
}

interface Frame {
  c: number;
  t: number;
  msg: any;
}

class Conn {
  private readonly writer: FrameWriter;
  private admitted = false;
  /** Before admission only the key's frame is accepted; then requests up to the cap. */
  private readonly reader = new FrameReader((len) => (this.admitted ? maxRequest(len) : AUTH_LENGTH));
  /** A turn's budget ran out with frames left: the rest is handled at setImmediate, the socket paused. */
  private backlogged = false;
  /** More than WRITE_HIGH bytes of replies unread by the peer: not read until they drain. */
  private writeFull = false;
  private readonly tokens = new Map<number, number>();
  private readonly pending = new Map<number, AbortController>();
  private readonly inflightCalls = new Set<Promise<unknown>>();
  /** Puts in progress (waiting for room). */
  private readonly putting = new Set<Promise<unknown>>();
  /** Objects whose holdings matter when this connection closes. */
  private readonly touched = new Map<number, Rec>();
  /** Queue items lent, not yet acknowledged as taken: per queue id, by lend id. */
  private readonly lent = new Map<number, Map<number, Lent>>();
  private lends = 0;
  /** Child threads that have ended (sent 'ack' { all }): what a get brings them goes back. */
  private readonly gone = new Set<number>();
  /** Refusals of puts that wanted no reply, per `${thread}:${queue id}`, until a put asks. */
  private readonly refusals = new Map<string, Refusal>();
  /** Per child thread: requests waiting behind that thread's put (waiting for room). */
  private readonly held = new Map<number, Frame[]>();
  private closed = false;
  private cleaned = false;
  /** Connection-wide: requests waiting for an object to be revived. */
  private backlog: Frame[] | null = null;

  constructor(private readonly socket: Socket) {
    this.writer = new FrameWriter(socket);
    const timer = setTimeout(() => {
      if (!this.admitted) socket.destroy();
    }, AUTH_TIMEOUT_MS);
    timer.unref();
    socket.on('data', (chunk) => {
      try {
        this.reader.add(chunk);
      } catch {
        socket.destroy(); // an announced length out of bounds: nothing of it is buffered
        return;
      }
      if (!this.backlogged) this.turn();
    });
    socket.on('drain', () => {
      this.writeFull = false;
      this.flow();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      this.onClose();
    });
  }

  /** Handle buffered frames, within this turn's budget. */
  private turn = (): void => {
    this.backlogged = false;
    let frames = 0;
    let bytes = 0;
    for (;;) {
      if (this.socket.destroyed) return;
      let f: ReturnType<FrameReader['next']>;
      try {
        f = this.reader.next();
      } catch {
        this.socket.destroy();
        return;
      }
      if (!f) break;
      if (!this.admitted) {
        if (f.c !== 0 || f.t !== 0 || !admits(f.body)) {
          this.socket.destroy();
          return;
        }
        this.admitted = true;
        this.writer.send(0, 0, new Uint8Array(0));
        continue;
      }
      this.receive(f.c, f.t, f.body);
      frames += 1;
      bytes += f.body.length;
      if (frames >= FRAMES_PER_TURN || bytes >= BYTES_PER_TURN) {
        this.backlogged = true;
        setImmediate(this.turn);
        break;
      }
    }
    this.flow();
  };

  /** Read from the socket only while this connection is neither backlogged nor behind on its replies. */
  private flow(): void {
    if (this.socket.destroyed) return;
    if (this.backlogged || this.writeFull) this.socket.pause();
    else this.socket.resume();
  }

  private send(c: number, body: Uint8Array): void {
    if (this.closed || c === 0) return;
    this.writer.send(c, 0, body);
    if (!this.writeFull && this.socket.writableLength > WRITE_HIGH) {
      this.writeFull = true;
      this.flow();
    }
  }

  private replyError(c: number, error: unknown): void {
    this.send(c, errorBody(error));
  }

  private replyValue(c: number, v: unknown): void {
    if (this.closed || c === 0) return;
    let body: Buffer;
    try {
      body = serialize({ ok: true, v: typeof v === 'object' && v !== null ? encode(v, 'process', 'result') : v });
    } catch (error) {
      body = errorBody(
        new TypeError(`conc broker: the result cannot be sent to a process: ${(error as Error).message}`),
      );
    }
    this.send(c, body);
  }

  private tokenFor(t: number): number {
    let token = this.tokens.get(t);
    if (token === undefined) {
      nextToken -= 1;
      token = nextToken;
      this.tokens.set(t, token);
    }
    return token;
  }

  private receive(c: number, t: number, body: Buffer): void {
    let msg: any;
    try {
      msg = deserialize(body);
    } catch {
      msg = undefined;
    }
    const f: Frame = { c, t, msg };
    if (this.backlog && !(isObject(msg) && msg.k === 'abort')) {
      this.backlog.push(f);
      return;
    }
    this.handle(f);
  }

  /** Start one request, unless it must wait (its thread is held, or its object is still being revived). */
  private handle(f: Frame): void {
    const { c, t, msg } = f;
    if (!isObject(msg) || typeof msg.k !== 'string') {
      this.replyError(c, new TypeError('conc broker: malformed request'));
      return;
    }
    if (msg.k === 'abort') {
      this.abort(c, t);
      return;
    }
    if (msg.k === 'ack') {
      // A fact about the past (the thread took an item, or gave it back): never held.
      // (Not a queue's: refused below, as any queue request to a non-queue is.)
      const rec = typeof msg.o === 'number' ? objects.get(msg.o) : undefined;
      if (rec && !(rec instanceof Promise) && ruleOf(rec.tag).queue) {
        this.ack(rec, t, msg);
        return;
      }
    }
    const queue = this.held.get(t);
    if (queue) {
      queue.push(f);
      return;
    }
    if (msg.k === 'bye') {
      void Promise.allSettled([...this.putting]).then(() => this.send(c, serialize({ ok: true })));
      return;
    }
    if (msg.k !== 'call' && msg.k !== 'getMany' && msg.k !== 'putMany' && msg.k !== 'ack') {
      this.replyError(c, new TypeError(`conc broker: unknown request kind ${JSON.stringify(msg.k)}`));
      return;
    }
    const found = lookup(msg.o);
    if (found === undefined) {
      this.replyError(c, new TypeError(`conc broker: no primitive with id ${String(msg.o)}`));
      return;
    }
    if (found instanceof Promise) {
      this.backlog = [f];
      found.then(
        () => this.resume(),
        () => this.resume(),
      );
      return;
    }
    try {
      this.dispatch(f, found);
    } catch (error) {
      this.replyError(c, error);
    }
  }

  private abort(c: number, t: number): void {
    const reason = new Error('aborted by the child');
    for (const list of [this.backlog, this.held.get(t)]) {
      const i = list ? list.findIndex((f) => f.c === c && f.t === t) : -1;
      if (i >= 0) {
        list!.splice(i, 1);
        this.replyError(c, reason);
        return;
      }
    }
    this.pending.get(c)?.abort(reason);
  }

  private resume(): void {
    const backlog = this.backlog ?? [];
    this.backlog = null;
    while (backlog.length > 0 && !this.backlog) this.handle(backlog.shift()!);
    if (this.backlog) (this.backlog as Frame[]).push(...backlog);
  }

  /** Thread `t` may go on: run what it sent meanwhile, in order, until it is held again. */
  private unhold(t: number): void {
    const queue = this.held.get(t);
    this.held.delete(t);
    if (!queue) return;
    while (queue.length > 0) {
      const f = queue.shift()!;
      if (this.closed && f.msg?.k !== 'putMany') continue;
      this.handle(f);
      const again = this.held.get(t);
      if (again) {
        again.push(...queue);
        return;
      }
    }
  }

  private dispatch(f: Frame, rec: Rec): void {
    const { c, t, msg } = f;
    const { obj } = rec;
    const api = ruleOf(rec.tag);
    const cls = rec.tag.replace(/^conc\./, '');
    if (msg.k !== 'call' && !api.queue) {
      throw new TypeError(`conc broker: ${cls} is not a queue (request ${msg.k} refused)`);
    }
    if (msg.k === 'putMany') {
      this.putMany(c, t, rec, msg.items);
      return;
    }
    if (msg.k === 'getMany') {
      this.getOne(c, t, rec, msg);
      return;
    }
    if (msg.k === 'ack') {
      this.ack(rec, t, msg);
      return;
    }
    // k === 'call'
    const token = this.tokenFor(t);
    let name: string = msg.m;
    if (typeof name !== 'string') throw new TypeError('conc broker: call without a method name');
    if (msg.g === 1) {
      if (!isPublicGetter(api, name)) {
        throw new TypeError(
          `conc broker: ${cls}.${name} is not a property of ${cls}'s public API (a process can read only those)`,
        );
      }
      this.replyValue(
        c,
        als.run(token, () => obj[name]),
      );
      return;
    }
    if (!isPublicMethod(api, name)) {
      throw new TypeError(
        `conc broker: ${cls} has no method ${name} in its public API (a process can call only those)`,
      );
    }
    // A child's xSync runs as the async x here (this thread never blocks).
    if (name.endsWith('Sync') && isPublicMethod(api, name.slice(0, -4))) name = name.slice(0, -4);
    const fn = obj[name];
    if (typeof fn !== 'function') throw new TypeError(`conc broker: ${cls} has no method ${name}`);
    const args: unknown[] = Array.isArray(msg.a) ? msg.a : [];
    let ac: AbortController | undefined;
    if (typeof msg.s === 'number' && msg.s >= 0 && msg.s < 16) {
      ac = new AbortController();
      const given = args[msg.s];
      // Options the method will refuse stay as they are (it says what is wrong).
      if (given === undefined || isObject(given)) args[msg.s] = { ...given, signal: ac.signal };
    }
    if (api.lockOf) this.touched.set(rec.id, rec);
    const relock = api.relocks?.includes(name) === true;
    const result = als.run(token, () => fn.apply(obj, args));
    if (result && typeof (result as any).then === 'function') {
      // A wait has let go of the lock by now: while it waits, this connection does not hold it.
      const held = relock ? this.letGo(rec) : undefined;
      const settled = Promise.resolve(result).then(
        (v) => {
          if (relock) this.tookBack(rec, token);
          else this.account(rec, name, v, token);
          return v;
        },
        (error) => {
          // An aborted wait took the lock back before rejecting; a refused one never let go.
          if (relock && ac !== undefined && error === ac.signal.reason) this.tookBack(rec, token);
          else if (relock) this.restoreHolder(rec, held);
          throw error;
        },
      );
      this.track(c, ac, settled);
    } else {
      this.account(rec, name, result, token);
      this.replyValue(c, result);
    }
  }

  private putMany(c: number, t: number, rec: Rec, items: unknown): void {
    if (!Array.isArray(items)) throw new TypeError('conc broker: putMany without items');
    const q = rec.obj;
    const key = `${t}:${rec.id}`;
    let i = 0;
    const refuse = (error: unknown, dropped: number) => {
      let r = this.refusals.get(key);
      if (!r) this.refusals.set(key, (r = { first: error, dropped: 0, shut: false }));
      if (isShutDown(error)) {
        r.shut = true;
        r.dropped += dropped;
      }
    };
    /** All in (or refused): answer a put that asks, with what was refused since the last answer. */
    const answer = () => {
      if (c === 0) return;
      const r = this.refusals.get(key);
      this.refusals.delete(key);
      this.send(c, r ? serialize({ ok: true, v: { e: peerError(r.first), n: r.dropped, s: r.shut } }) : OK);
    };
    for (; i < items.length; i++) {
      try {
        q.putNowait(items[i]);
      } catch (error) {
        if ((error as Error)?.name === 'QueueFull') break;
        if (isShutDown(error)) {
          refuse(error, items.length - i);
          answer();
          return;
        }
        refuse(error, 0); // an item the queue refuses (too large): the others go in
      }
    }
    if (i === items.length) {
      answer();
      return;
    }
    // Full (of bytes): wait for room, holding this thread's later requests.
    this.held.set(t, []);
    const rest = async () => {
      for (; i < items.length; i++) {
        try {
          await q.put(items[i]);
        } catch (error) {
          if (isShutDown(error)) {
            refuse(error, items.length - i);
            return;
          }
          refuse(error, 0);
        }
      }
    };
    const p = rest().then(answer);
    this.putting.add(p);
    void p.finally(() => {
      this.putting.delete(p);
      this.unhold(t);
    });
  }

  /** Move one item to child thread `t`: taken now (`wait: 0`) or by an async get with the child's options. */
  private getOne(c: number, t: number, rec: Rec, msg: any): void {
    this.touched.set(rec.id, rec);
    const q = rec.obj;
    if (msg.wait === 0) {
      const item = q.getNowait(); // QueueEmpty, QueueShutDown: the error reply
      this.send(c, this.lend(rec, t, item));
      return;
    }
    // An item there now is taken now (a get with timeout 0, or aborted a moment later, still gets it).
    let got = false;
    let first: unknown;
    try {
      first = q.getNowait();
      got = true;
    } catch {
      // empty (or shut down and empty): the async get below waits, or says so in its own words
    }
    if (got) {
      this.send(c, this.lend(rec, t, first));
      return;
    }
    const ac = new AbortController();
    const given = msg.a?.[0];
    const options = { ...(isObject(given) ? given : {}), signal: ac.signal };
    const p = (als.run(this.tokenFor(t), () => q.get(options)) as Promise<unknown>).then((item) => {
      // Nobody is waiting for it any more (aborted, the thread ended, the child is gone): back it goes.
      if (this.closed || this.gone.has(t) || ac.signal.aborted) {
        putBack(rec, [item]);
        throw ac.signal.reason ?? new Error('conc broker: the get was given up');
      }
      return this.lend(rec, t, item);
    });
    this.track(c, ac, p, true);
  }

  /** Book `item` as lent to thread `t`; the reply that carries it and its lend id. */
  private lend(rec: Rec, t: number, item: unknown): Buffer {
    const id = ++this.lends;
    let books = this.lent.get(rec.id);
    if (!books) this.lent.set(rec.id, (books = new Map()));
    books.set(id, { t, item });
    return serialize({ ok: true, v: item, l: id });
  }

  private track(c: number, ac: AbortController | undefined, p: Promise<unknown>, raw = false): void {
    if (ac) this.pending.set(c, ac);
    const settled = p.then(
      (v) => (raw ? this.send(c, v as Buffer) : this.replyValue(c, v)),
      (e) => this.replyError(c, e),
    );
    this.inflightCalls.add(settled);
    void settled.finally(() => {
      this.pending.delete(c);
      this.inflightCalls.delete(settled);
    });
  }

  /** The plain Lock of a lock-like `rec` and its key in lockHolders; undefined for an RLock (it knows its owner). */
  private plainLock(rec: Rec): { lock: any; key: string } | undefined {
    const lock = ruleOf(rec.tag).lockOf?.(rec.obj);
    if (!lock || isOwnedLock(lock)) return undefined;
    return { lock, key: keyOf(lock, rec.id) };
  }

  /**
   * Record what a completed call gave to (or took back from) this
   * connection; if the connection is already closed, undo it (the child
   * never learnt of it): an acquired lock or permit is given back, unflagged.
   */
  private account(rec: Rec, name: string, v: unknown, token: number): void {
    const rule = ruleOf(rec.tag);
    const took = (name === 'acquire' || name === 'tryAcquire') && v === true;
    if (rule.lockOf) {
      const plain = this.plainLock(rec);
      if (plain && took) lockHolders.set(plain.key, this);
      else if (plain && name === 'release') lockHolders.delete(plain.key); // whoever took it, it is free now
      if (took && this.closed) this.letGoNow(rec, token, false);
    } else if (rule.permits && took && this.closed) {
      rec.obj.release();
    }
  }

  /** A wait (rule `relocks`) let go of the lock: this connection is not its holder while it waits. */
  private letGo(rec: Rec): Conn | undefined {
    const plain = this.plainLock(rec);
    if (!plain) return undefined;
    const held = lockHolders.get(plain.key);
    if (held === this) lockHolders.delete(plain.key);
    return held;
  }

  /** A wait refused at once (it never let go): the holding is as it was. */
  private restoreHolder(rec: Rec, held: Conn | undefined): void {
    const plain = this.plainLock(rec);
    if (plain && held === this && !lockHolders.has(plain.key) && plain.lock.locked) lockHolders.set(plain.key, this);
  }

  /** A wait settled, holding the lock again: a holder once more, or (closed) let go of it. */
  private tookBack(rec: Rec, token: number): void {
    if (this.closed) {
      this.letGoNow(rec, token, true);
      return;
    }
    const plain = this.plainLock(rec);
    if (plain) lockHolders.set(plain.key, this);
  }

  /**
   * Release, unflagged, what this closed connection got after it closed (the
   * child never learnt of it): one level of an RLock an acquire took, or
   * every level a wait took back (a waiter holds nothing while it waits).
   */
  private letGoNow(rec: Rec, token: number, all: boolean): void {
    try {
      const lock = ruleOf(rec.tag).lockOf!(rec.obj);
      if (isOwnedLock(lock)) {
        als.run(token, () => {
          do lock.release();
          while (all && lock.isOwned());
        });
      } else {
        const key = keyOf(lock, rec.id);
        if (lockHolders.get(key) === this) lockHolders.delete(key);
        lock.release();
      }
    } catch (error) {
      process.stderr.write(
        `conc broker: could not give back ${rec.tag} for a dead child: ${(error as Error).message}\n`,
      );
    }
  }

  /** 'ack' { l }: lent item l was taken; { l, back: 1 }: it comes back; { all: 1 }: thread t has ended. */
  private ack(rec: Rec, t: number, msg: any): void {
    const books = this.lent.get(rec.id);
    if (msg.all === 1) {
      this.gone.add(t);
      if (!books) return;
      const back: unknown[] = [];
      for (const [id, e] of books) {
        if (e.t !== t) continue;
        books.delete(id);
        back.push(e.item);
      }
      putBack(rec, back);
      return;
    }
    const e = books?.get(msg.l);
    if (!e || e.t !== t) return;
    books!.delete(msg.l);
    if (msg.back === 1) putBack(rec, [e.item]);
  }

  /** Give back everything this (closed) connection holds on `rec`. */
  private release(rec: Rec): void {
    const rule = ruleOf(rec.tag);
    try {
      if (rule.lockOf) {
        const lock = rule.lockOf(rec.obj);
        if (isOwnedLock(lock)) {
          for (const token of this.tokens.values()) lock.releaseAbandoned(token);
        } else {
          const key = keyOf(lock, rec.id);
          if (lockHolders.get(key) === this) {
            lockHolders.delete(key);
            if (lock.locked) lock.releaseAbandoned();
          }
        }
      } else if (rule.queue) {
        const books = this.lent.get(rec.id);
        if (books)
          putBack(
            rec,
            [...books.values()].map((e) => e.item),
          );
        books?.clear();
      }
    } catch (error) {
      process.stderr.write(
        `conc broker: could not release ${rec.tag} held by a dead child: ${(error as Error).message}\n`,
      );
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.pending.values()) ac.abort(new Error('conc: the child process disconnected'));
    // Held requests other than puts will never be answered; puts are completed (the child did put them).
    for (const queue of this.held.values()) {
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i].msg?.k !== 'putMany') queue.splice(i, 1);
    }
    this.backlog = this.backlog?.filter((f) => f.msg?.k === 'putMany' || f.msg?.k === 'ack') ?? null;
    const settle = Promise.allSettled([...this.inflightCalls]);
    const grace = new Promise((r) => setTimeout(r, 250));
    void Promise.race([settle, grace]).then(() => this.cleanup());
  }

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const rec of this.touched.values()) this.release(rec);
  }
}

const OK = serialize({ ok: true });

/** A queue item lent to child thread `t`. */
interface Lent {
  t: number;
  item: unknown;
}

/** Puts of one child thread on one queue refused since the last answer: the first error, items dropped by a shutdown. */
interface Refusal {
  first: unknown;
  dropped: number;
  shut: boolean;
}

/** @conc/queue's put-back (see RESTORE in its queue.ts): not refused by a shutdown without `immediate`. */
const RESTORE = Symbol.for('conc.queue.restore.v1');

/**
 * Put items back at the tail: they were in the queue before (a shutdown
 * since then does not refuse them, Python's get drains what is left; an
 * immediate one drops them). A JoinableQueue counted each when it was first
 * put: put back, it is counted again, so mark it done once; dropped, nobody
 * else will, so mark it done too.
 */
function putBack(rec: Rec, items: unknown[]): void {
  if (items.length === 0) return;
  const q = rec.obj;
  const joinable = ruleOf(rec.tag).queue?.joinable;
  // Each put back at once where it can be (RESTORE puts synchronously when
  // it gets the lock and there is room), not one after another's promise.
  for (const item of items) {
    let restoring: Promise<boolean>;
    try {
      restoring = q[RESTORE](item);
    } catch (error) {
      restoring = Promise.reject(error);
    }
    void restoring
      .catch((error) => {
        process.stderr.write(`conc broker: could not put an item back in a ${rec.tag}: ${(error as Error).message}\n`);
      })
      .finally(() => {
        if (!joinable) return;
        try {
          q.taskDone(); // its second count (put back), or its only one (dropped)
        } catch {
          // nothing unfinished: a child marked more done than it took
        }
      });
  }
}

const server = createServer((socket) => new Conn(socket));
server.on('error', (error) => {
  process.stderr.write(`conc broker: ${error.message}\n`);
});
// The directory is 0700 already (broker.ts); the socket itself is made 0600 too.
server.listen(socketPath, () => {
  try {
    chmodSync(socketPath, 0o600);
  } catch (error) {
    process.stderr.write(`conc broker: cannot restrict ${socketPath}: ${(error as Error).message}\n`);
  }
});
