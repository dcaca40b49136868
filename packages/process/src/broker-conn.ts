/**
 * One connection to the broker (one per child process, or per grandchild
 * that was handed a reference): the dispatch of its requests, on top of
 * the framing layer (broker-framing.ts: admission, size, fairness). What is served is only what each class's ProcessSpec
 * lists (spec.ts); what a call gives or takes back is booked by the class's
 * own hooks (broker-holdings.ts); streamed calls are broker-stream.ts's.
 *
 * Algorithm:
 *   - Requests are started in arrival order. A call runs the real method
 *     (only a public one: anything else gets a TypeError reply and has no
 *     effect); a child's `xSync` runs the async `x` here (this thread never
 *     blocks), with an AbortSignal of the broker's inserted in its options
 *     so that a disconnect can abort it; a child's own abort arrives as an
 *     'abort' frame for the call. The class's `onCall` hook hears of every
 *     phase of the call ('waiting', then 'done' or 'failed').
 *   - A request waits, in order, while its object is still being revived
 *     (connection-wide), or while its thread is held by a feed waiting for
 *     room (per thread).
 *   - Results go back by value; a result that is (or holds) a conc primitive
 *     is registered and goes back as a reference to it. Error replies carry
 *     the error's name, message, code and own scalars, never its stack.
 *   - On disconnect (exit, throw, SIGKILL: the kernel closes the socket):
 *     abort every pending call (an aborted acquire holds nothing, an aborted
 *     take takes nothing), give them a moment to settle, then call the
 *     `onDeath` hook of every primitive the connection touched and give back
 *     what was lent to it. A call that completes after the disconnect is
 *     undone by its hook (`holdings.gone`). Feeds still in progress are
 *     completed (the child did send them).
 *   - A malformed or unknown request gets an error reply and the connection
 *     keeps being served.
 */
import { deserialize, serialize } from 'node:v8';
import { type ProcessCall, type ProcessHoldings, encode } from '@conc/core';
import { peerError } from './errors.js';
import { type Holder, holdingsOf, newToken, noteCall, noteDeath, runAs } from './broker-holdings.js';
import { FramedConn } from './broker-framing.js';
import { type Served, lookup, revived } from './broker-registry.js';
import { type StreamConn, Streams } from './broker-stream.js';
import { isPublicGetter, isPublicMethod, labelOf, servedAs, specOf } from './spec.js';
import type { CallRequest, Reply, Request } from './wire.js';

/** After a disconnect, how long pending calls get to settle before what is held is given back. */
const SETTLE_MS = 250;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorBody(error: unknown): Buffer {
  const n = (error as { dropped?: unknown })?.dropped;
  const reply: Reply =
    typeof n === 'number' ? { ok: false, e: peerError(error), n } : { ok: false, e: peerError(error) };
  return serialize(reply);
}

/** A request as it arrived: call id, child thread, body (undefined if it was not v8 data). */
interface Incoming {
  c: number;
  t: number;
  msg: Request | undefined;
}

export class Conn extends FramedConn implements Holder, StreamConn {
  readonly tokens = new Map<number, number>();
  private readonly holdings = new Map<number, ProcessHoldings>();
  private readonly pending = new Map<number, AbortController>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Objects whose holdings matter when this connection closes. */
  private readonly touched = new Map<number, Served>();
  private readonly streams = new Streams(this);
  /** Per child thread: requests waiting behind that thread's feed (waiting for room). */
  private readonly held = new Map<number, Incoming[]>();
  private cleaned = false;
  /** Connection-wide: requests waiting for an object to be revived. */
  private backlog: Incoming[] | null = null;

  private replyError(c: number, error: unknown): void {
    this.send(c, errorBody(error));
  }

  private replyValue(c: number, v: unknown): void {
    if (this.closed || c === 0) return;
    let body: Buffer;
    try {
      const reply: Reply = { ok: true, v: typeof v === 'object' && v !== null ? encode(v, 'process', 'result') : v };
      body = serialize(reply);
    } catch (error) {
      body = errorBody(
        new TypeError(`conc broker: the result cannot be sent to a process: ${(error as Error).message}`),
      );
    }
    this.send(c, body);
  }

  tokenFor(t: number): number {
    let token = this.tokens.get(t);
    if (token === undefined) this.tokens.set(t, (token = newToken()));
    return token;
  }

  private holdingsFor(token: number): ProcessHoldings {
    let h = this.holdings.get(token);
    if (!h) this.holdings.set(token, (h = holdingsOf(this, token)));
    return h;
  }

  touch(served: Served): void {
    this.touched.set(served.id, served);
  }

  holdThread(t: number): () => void {
    this.held.set(t, []);
    return () => this.unhold(t);
  }

  protected receive(c: number, t: number, body: Buffer): void {
    let msg: Request | undefined;
    try {
      msg = deserialize(body);
    } catch {
      msg = undefined;
    }
    const f: Incoming = { c, t, msg };
    if (this.backlog && !(isObject(msg) && msg.k === 'abort')) {
      this.backlog.push(f);
      return;
    }
    this.handle(f);
  }

  /** Start one request, unless it must wait (its thread is held, or its object is still being revived). */
  private handle(f: Incoming): void {
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
      // (Not a lending primitive's: refused below, as any streamed request to another is.)
      const served = revived(msg.o);
      if (served && specOf(served.tag).lend) {
        this.streams.ack(served, t, msg);
        return;
      }
    }
    const waiting = this.held.get(t);
    if (waiting) {
      waiting.push(f);
      return;
    }
    if (msg.k === 'bye') {
      void Promise.allSettled([...this.streams.putting]).then(() => this.send(c, serialize({ ok: true })));
      return;
    }
    if (msg.k !== 'call' && msg.k !== 'take' && msg.k !== 'feed' && msg.k !== 'ack') {
      this.replyError(c, new TypeError(`conc broker: unknown request kind ${JSON.stringify((msg as any).k)}`));
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
      this.dispatch(f, msg, found);
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
    if (this.backlog) (this.backlog as Incoming[]).push(...backlog);
  }

  /** Thread `t` may go on: run what it sent meanwhile, in order, until it is held again. */
  private unhold(t: number): void {
    const waiting = this.held.get(t);
    this.held.delete(t);
    if (!waiting) return;
    while (waiting.length > 0) {
      const f = waiting.shift()!;
      if (this.closed && f.msg?.k !== 'feed') continue;
      this.handle(f);
      const again = this.held.get(t);
      if (again) {
        again.push(...waiting);
        return;
      }
    }
  }

  private dispatch(f: Incoming, msg: Request, served: Served): void {
    const spec = specOf(served.tag);
    const cls = labelOf(served.tag);
    if (msg.k === 'feed' || msg.k === 'take' || msg.k === 'ack') {
      if (!(msg.k === 'feed' ? spec.feed : spec.lend)) {
        throw new TypeError(`conc broker: ${cls} streams no calls (request ${msg.k} refused: not in its public API)`);
      }
      if (msg.k === 'feed') this.streams.feed(f.c, f.t, served, msg.items);
      else if (msg.k === 'take') this.streams.take(f.c, f.t, served, msg);
      else this.streams.ack(served, f.t, msg);
      return;
    }
    if (msg.k === 'call') this.call(f.c, f.t, served, msg);
  }

  private call(c: number, t: number, served: Served, msg: CallRequest): void {
    const spec = specOf(served.tag);
    const cls = labelOf(served.tag);
    const { obj, tag } = served;
    const token = this.tokenFor(t);
    const asked = msg.m;
    if (typeof asked !== 'string') throw new TypeError('conc broker: call without a method name');
    if (msg.g === 1) {
      if (!isPublicGetter(spec, asked)) {
        throw new TypeError(
          `conc broker: ${cls}.${asked} is not a property of ${cls}'s public API (a process can read only those)`,
        );
      }
      this.replyValue(
        c,
        runAs(token, () => obj[asked]),
      );
      return;
    }
    if (!isPublicMethod(spec, asked)) {
      throw new TypeError(
        `conc broker: ${cls} has no method ${asked} in its public API (a process can call only those)`,
      );
    }
    const name = servedAs(spec, asked);
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
    if (spec.onDeath) this.touch(served);
    const result = runAs(token, () => fn.apply(obj, args));
    const books = spec.onCall ? this.holdingsFor(token) : undefined;
    if (!(result && typeof (result as any).then === 'function')) {
      if (books) noteCall(tag, obj, { name, phase: 'done', result }, books);
      this.replyValue(c, result);
      return;
    }
    const call: ProcessCall = { name, phase: 'waiting' };
    if (books) noteCall(tag, obj, call, books);
    const settled = Promise.resolve(result).then(
      (v) => {
        call.phase = 'done';
        call.result = v;
        if (books) noteCall(tag, obj, call, books);
        return v;
      },
      (error) => {
        call.phase = 'failed';
        call.aborted = ac !== undefined && error === ac.signal.reason;
        if (books) noteCall(tag, obj, call, books);
        throw error;
      },
    );
    this.settle(c, ac, settled, (v) => this.replyValue(c, v));
  }

  /** Reply to call `c` with the serialized reply `p` resolves to. */
  track(c: number, ac: AbortController, p: Promise<Uint8Array>): void {
    this.settle(c, ac, p, (body) => this.send(c, body));
  }

  private settle<V>(c: number, ac: AbortController | undefined, p: Promise<V>, reply: (v: V) => void): void {
    if (ac) this.pending.set(c, ac);
    const settled = p.then(reply, (e) => this.replyError(c, e));
    this.inFlight.add(settled);
    void settled.finally(() => {
      this.pending.delete(c);
      this.inFlight.delete(settled);
    });
  }

  protected onClose(): void {
    for (const ac of this.pending.values()) ac.abort(new Error('conc: the child process disconnected'));
    // Held requests other than feeds will never be answered; feeds are completed (the child did send them).
    for (const waiting of this.held.values()) {
      for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i].msg?.k !== 'feed') waiting.splice(i, 1);
    }
    this.backlog = this.backlog?.filter((f) => f.msg?.k === 'feed' || f.msg?.k === 'ack') ?? null;
    const settle = Promise.allSettled([...this.inFlight]);
    const grace = new Promise((r) => setTimeout(r, SETTLE_MS));
    void Promise.race([settle, grace]).then(() => this.cleanup());
  }

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const served of this.touched.values()) {
      noteDeath(served.tag, served.obj, this);
      if (specOf(served.tag).lend) this.streams.giveBackAll(served);
    }
  }
}
