/**
 * The child's side of calls that take one item each (a primitive's
 * ProcessSpec `lend`; a queue's gets). A lend method takes `(options?)`.
 *
 * Each call moves one item, in one round trip: no item is fetched ahead, so
 * what no call has taken is in the owner's primitive, counted there and
 * takeable by anyone. The owner lends the item (books it under a lend id for
 * this thread); this thread acknowledges it as it takes it, before the call
 * returns or resolves ('ack', posted to the bridge, so it leaves even if the
 * thread then spins or is killed an instant later), so a taken item is never
 * delivered again. The blocking call's timeout is the owner's.
 *
 * Concurrent async calls of one thread wait in line (Taker), served in the
 * order they were made by one request at a time, for the first of them;
 * what it brings goes to the first taker still waiting (or back to the
 * owner if none is: 'ack' back, to the tail). A taker that leaves (its
 * signal; its timeout, a long timer here) while it is not first just
 * leaves. The first one aborts the request: on a signal it leaves at once
 * (an item the request still brings serves the next); on its timeout it
 * waits for the request's answer, and an item it still brings is its own
 * (the owner had one by the deadline), else `lend.timedOut(...)`. A child
 * Thread that ends aborts its pending request and hands back whatever is
 * lent to it ('ack' all).
 */
import { serialize } from 'node:v8';
import { type LongTimeout, type ProcessLend, checkSyncWaitOptions, checkWaitOptions, setLongTimeout } from '@conc/core';
import { type CallKind, type Ref, refOf, relabel } from './client-call.js';
import { type Stream, channel } from './client-channel.js';
import { labelOf } from './spec.js';
import type { LendRequest } from './wire.js';

const LEND = Symbol('conc.process.lend');

/** An async call of this thread waiting for an item. */
interface Taker {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: LongTimeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Timed out while first: rejected with this once the request is answered, unless it brings an item. */
  expired: Error | undefined;
}

class LendState implements Stream {
  /** Async calls waiting, in the order they were made. */
  readonly line: Taker[] = [];
  /** The line's request in flight (its call id; 0: none), and whether it was aborted. */
  asking = 0;
  aborted = false;
  readonly busy = false;
  /** The class's name in messages. */
  readonly label: string;

  constructor(
    readonly ref: Ref,
    readonly lend: ProcessLend<unknown>,
  ) {
    this.label = labelOf(ref.tag);
  }

  /** The thread ends: abort its pending request, hand back what is lent to it. */
  leave(): void {
    abortFetch(this);
    channel().send(this.ref.socket, { k: 'ack', o: this.ref.id, all: 1 });
  }
}

function lendState(proxy: object, lend: ProcessLend<unknown>): LendState {
  let st = (proxy as { [LEND]?: LendState })[LEND];
  if (!st) {
    st = new LendState(refOf(proxy), lend);
    Object.defineProperty(proxy, LEND, { value: st });
    channel().streams.add(st);
  }
  return st;
}

/** This thread has taken lent item `lend`: it is never delivered again. */
function taken(st: LendState, lend: number | undefined): void {
  if (lend !== undefined) channel().send(st.ref.socket, { k: 'ack', o: st.ref.id, l: lend });
}

/** Lent item `lend` came for a call that has given up: back to the owner. */
function giveBack(st: LendState, lend: number | undefined): void {
  if (lend !== undefined) channel().send(st.ref.socket, { k: 'ack', o: st.ref.id, l: lend, back: 1 });
}

function takeMsg(st: LendState, timeout: number | undefined, wait: boolean): Buffer {
  const options = timeout === undefined ? {} : { timeout };
  const msg: LendRequest = wait
    ? { k: 'take', o: st.ref.id, a: [options] }
    : { k: 'take', o: st.ref.id, a: [options], wait: 0 };
  return serialize(msg);
}

/** The blocking and the no-wait call: one round trip, blocking; the item is acknowledged before it is returned. */
function takeBlocking(
  st: LendState,
  timeout: number | undefined,
  wait: boolean,
  method: string,
  async: string,
): unknown {
  const [ok, value, lend] = channel().requestSync(st.ref.socket, takeMsg(st, timeout, wait));
  if (!ok) throw relabel(value, async, method);
  taken(st, lend);
  return value;
}

function takeAsync(
  st: LendState,
  method: string,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const g: Taker = { resolve, reject, timer: undefined, signal, onAbort: undefined, expired: undefined };
    st.line.push(g);
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
      g.timer = setLongTimeout(() => expire(st, g, method, timeout), timeout);
    }
    if (signal) {
      g.onAbort = () => leave(st, g, signal.reason);
      signal.addEventListener('abort', g.onAbort, { once: true });
    }
    if (st.asking === 0) fetchFor(st);
  });
}

/** Send the line's request, for its first taker. */
function fetchFor(st: LendState): void {
  st.aborted = false;
  st.asking = channel().request(st.ref.socket, takeMsg(st, undefined, true), (ok, v, lend) =>
    answered(st, ok, v, lend),
  );
}

function forget(g: Taker): void {
  g.timer?.clear();
  if (g.onAbort) g.signal!.removeEventListener('abort', g.onAbort);
}

function abortFetch(st: LendState): void {
  if (st.asking === 0 || st.aborted) return;
  st.aborted = true;
  channel().abort(st.ref.socket, st.asking);
}

/** A taker's signal aborted: it leaves at once (if it was first, the request is aborted). */
function leave(st: LendState, g: Taker, reason: unknown): void {
  const i = st.line.indexOf(g);
  if (i < 0) return;
  st.line.splice(i, 1);
  forget(g);
  if (i === 0 && !g.expired) abortFetch(st);
  g.reject(reason);
}

function expire(st: LendState, g: Taker, method: string, timeout: number): void {
  g.timer = undefined;
  const i = st.line.indexOf(g);
  if (i < 0) return;
  const error = st.lend.timedOut(method, timeout);
  if (i === 0 && st.asking !== 0) {
    g.expired = error; // settled by the answer
    abortFetch(st);
    return;
  }
  st.line.splice(i, 1);
  forget(g);
  g.reject(error);
}

/** The answer to the line's request: an item for the first taker waiting (or back to the owner), or an error. */
function answered(st: LendState, ok: boolean, v: unknown, lend: number | undefined): void {
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
      st.line.unshift(g); // aborted for a taker that has left: this one is still waiting
    else g.reject(v); // the owner said no (shut down and empty)
  }
  if (st.line.length > 0) fetchFor(st);
}

/** The proxy's method `name` of `kind` for a lend; `async` names the lend's async method. */
export function lendMethod(lend: ProcessLend<unknown>, name: string, kind: CallKind, async: string) {
  if (kind === 'async') {
    return function (this: object, options?: any): Promise<unknown> {
      const st = lendState(this, lend);
      const method = `${st.label}.${name}`;
      let signal: AbortSignal | undefined;
      if (options !== undefined) {
        try {
          checkWaitOptions(options, method);
        } catch (error) {
          return Promise.reject(error);
        }
        signal = options.signal;
        if (signal?.aborted) return Promise.reject(signal.reason);
      }
      return takeAsync(st, method, options?.timeout, signal);
    };
  }
  return function (this: object, options?: any): unknown {
    const st = lendState(this, lend);
    const label = st.label;
    const method = `${label}.${name}`;
    if (kind === 'blocking') {
      checkSyncWaitOptions(options, method);
      return takeBlocking(st, options?.timeout, true, method, `${label}.${async}`);
    }
    return takeBlocking(st, undefined, false, method, `${label}.${async}`);
  };
}
