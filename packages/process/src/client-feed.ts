/**
 * The child's side of calls sent ahead (a primitive's ProcessSpec `feed`;
 * a queue's puts, Python's feeder thread the model: the owner's primitive
 * stays the one place items are). A feed method takes `(item, options?)`.
 *
 *   - Where `feed.applies` (an unbounded queue), a call posts its item to
 *     the bridge at once, one frame per call ('feed' of one item): a
 *     call that returned is on its way, without waiting for this thread's
 *     event loop. Most want no reply; one asks for an answer when none is
 *     outstanding, or after ASK_EVERY that did not, and a tail ask (an
 *     empty 'feed') covers the last ones at the next event-loop turn and
 *     before the thread ends. While more than WINDOW asks are unanswered
 *     the call waits (async: a Promise; the others: blocking): the owner's
 *     primitive has no room, or its broker is behind. An item of at least
 *     a quarter of what the primitive accepts (ProcessSpec.requestBytes)
 *     goes as a call instead (answered: a refusal comes from its own call,
 *     worded by the owner, as a thread's is).
 *   - The owner notes a refusal and answers the next ask with it: the
 *     thread's next call throws that error and, once a final refusal is
 *     known (`feed.final`: shut down), every later call throws
 *     `feed.closed(...)` at once. An error no call surfaced makes the
 *     child's target fail with it when it returns (join rejects): nothing
 *     is dropped silently. An item that cannot be cloned, or that holds a
 *     conc primitive, is refused here by its own call (DataCloneError,
 *     @conc/core's wording, as a thread's).
 *   - Elsewhere (a bounded queue: Python's exact Full and timeout
 *     behaviour) every call is forwarded, the item checked here first.
 */
import { serialize } from 'node:v8';
import { type ProcessFeed, checkSyncWaitOptions, checkWaitOptions, itemCloneError, itemRefusal } from '@conc/core';
import { type CallKind, type Ref, forwardCall, refOf } from './client-call.js';
import { type Stream, channel } from './client-channel.js';
import { reviveError } from './errors.js';
import { labelOf } from './spec.js';
import { REQUEST_CAP_MIN, type FeedRefusals, type FeedRequest } from './wire.js';

/** One in ASK_EVERY calls (at least) asks for an answer; wait while more than WINDOW asks are unanswered. */
const ASK_EVERY = 256;
const WINDOW = 8;
const FEED = Symbol('conc.process.feed');
const RESOLVED = Promise.resolve();

class FeedState implements Stream {
  /** An item whose frame is at least this big goes as a call. */
  readonly big: number;
  /** Calls sent wanting no reply since the last that asked. */
  unasked = 0;
  /** Calls that asked for an answer and have none yet. */
  asks = 0;
  /** Counted in the mailbox's MB_BUSY: sends not yet confirmed. */
  busy = false;
  /** A tail ask is scheduled (setImmediate). */
  tail = false;
  room: (() => void)[] = [];
  /** Asks sent; the last one sent when a refusal was reported. */
  seq = 0;
  reportedUpTo = 0;
  /** A final refusal is known: every call throws at once. */
  shut = false;
  /** A refusal not reported yet, and how many items final refusals dropped since the last report. */
  failed: Error | undefined;
  dropped = 0;

  /** The class's name in messages. */
  readonly label: string;
  /** The async method's name, as `Label.name`: the one a refusal nobody surfaced is reported as. */
  readonly method: string;

  constructor(
    readonly ref: Ref,
    readonly feed: ProcessFeed<unknown>,
    async: string,
  ) {
    this.label = labelOf(ref.tag);
    this.method = `${this.label}.${async}`;
    // Unknown size: still far below what a broker accepts in one request (wire.ts requestCap).
    this.big = typeof ref.cap === 'number' && ref.cap > 0 ? ref.cap / 4 : REQUEST_CAP_MIN / 4;
  }

  leave(): void {
    if (this.unasked > 0) ask(this, tailBody(this));
  }

  flush(): void {
    this.leave();
  }

  report(): Error | undefined {
    return report(this, this.method);
  }
}

function feedState(proxy: object, feed: ProcessFeed<unknown>, async: string): FeedState {
  let st = (proxy as { [FEED]?: FeedState })[FEED];
  if (!st) {
    st = new FeedState(refOf(proxy), feed, async);
    Object.defineProperty(proxy, FEED, { value: st });
    channel().streams.add(st);
  }
  return st;
}

/**
 * The owner refused calls covered by ask `seq` (`n` items dropped by a
 * final refusal; `shut`: it was final). A refusal of calls sent before the
 * last report (the thread already knows they fail) is not reported again.
 */
function refused(st: FeedState, seq: number, error: Error, n = 0, shut = st.feed.final?.(error) === true): void {
  if (shut) st.shut = true;
  if (seq <= st.reportedUpTo) return;
  st.dropped += n;
  st.failed ??= error;
}

/** The unreported refusal, as `method` throws it; marks it reported. */
function report(st: FeedState, method: string): Error | undefined {
  const e = st.failed;
  if (!e) return undefined;
  st.failed = undefined;
  st.reportedUpTo = st.seq;
  if (!st.feed.final?.(e) || !st.feed.closed) return e;
  const n = st.dropped;
  st.dropped = 0;
  return st.feed.closed(method, n);
}

/** Throw what an earlier call ran into (once), or the closed error for good once a final refusal is known. */
function surface(st: FeedState, method: string): void {
  const e = report(st, method);
  if (e) throw e;
  if (st.shut) throw st.feed.closed?.(method) ?? new Error(`${method}: refused`);
}

/** Serialize `value` (holding the item), or throw the DataCloneError a thread's `method` throws for `item`. */
function serializeItem(value: unknown, item: unknown, method: string): Buffer {
  const refusal = itemRefusal(item, method);
  if (refusal) throw refusal;
  try {
    return serialize(value);
  } catch (error) {
    throw itemCloneError(item, method, error as Error);
  }
}

function tailBody(st: FeedState): Buffer {
  return serialize({ k: 'feed', o: st.ref.id, items: [] } satisfies FeedRequest);
}

/** Send a call that asks for an answer (with what the owner refused since the last answer). */
function ask(st: FeedState, body: Uint8Array): void {
  const seq = ++st.seq;
  st.asks++;
  st.unasked = 0;
  const ch = channel();
  ch.request(st.ref.socket, body, (ok, v) => {
    st.asks--;
    const r = v as FeedRefusals | undefined;
    if (!ok) refused(st, seq, v as Error);
    else if (r) refused(st, seq, reviveError(r.e), r.n, r.s);
    if (st.busy && st.asks === 0 && st.unasked === 0) {
      st.busy = false;
      ch.busy(-1);
    }
    while (st.room.length > 0 && st.asks <= WINDOW) st.room.shift()!();
  });
}

function tailAsk(st: FeedState): void {
  st.tail = false;
  if (st.unasked > 0) ask(st, tailBody(st));
}

/** Post one call to the bridge now: it is on its way before the call returns. */
function sendAhead(st: FeedState, body: Uint8Array): void {
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

/** Wait (blocking) until `st` has at most WINDOW asks unanswered. */
function waitRoomSync(st: FeedState): void {
  if (st.asks > WINDOW) channel().pumpUntil(() => st.asks <= WINDOW);
}

/** Where the feed does not apply: checked here (options, then the item), then forwarded as a call. */
function forwarded(proxy: object, name: string, kind: CallKind, item: unknown, options: unknown): unknown {
  const method = `${labelOf(refOf(proxy).tag)}.${name}`;
  if (kind === 'sync') {
    serializeItem(item, item, method);
    return forwardCall(proxy, name, [item], 'sync', 0);
  }
  if (kind === 'blocking') {
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

/** The proxy's method `name` of `kind` for a feed: `async` names the feed's async method. */
export function feedMethod(feed: ProcessFeed<unknown>, name: string, kind: CallKind, async: string) {
  const applies = (proxy: object) => feed.applies?.(refOf(proxy).info ?? {}) !== false;
  if (kind === 'async') {
    return function (this: object, item: unknown, options?: any): Promise<void> {
      if (!applies(this)) return forwarded(this, name, kind, item, options) as Promise<void>;
      const st = feedState(this, feed, async);
      const method = `${st.label}.${name}`;
      try {
        if (options !== undefined) {
          checkWaitOptions(options, method);
          if (options.signal?.aborted) return Promise.reject(options.signal.reason);
        }
        const body = serializeItem({ k: 'feed', o: st.ref.id, items: [item] } satisfies FeedRequest, item, method);
        surface(st, method);
        if (body.length >= st.big) return forwardCall(this, name, [item, options], 'async', 1, true) as Promise<void>;
        sendAhead(st, body);
      } catch (error) {
        return Promise.reject(error);
      }
      if (st.asks <= WINDOW) return RESOLVED;
      return new Promise<void>((resolve) => st.room.push(resolve));
    };
  }
  return function (this: object, item: unknown, options?: any): void {
    if (!applies(this)) return void forwarded(this, name, kind, item, options);
    const st = feedState(this, feed, async);
    const method = `${st.label}.${name}`;
    if (kind === 'blocking') checkSyncWaitOptions(options, method);
    const body = serializeItem({ k: 'feed', o: st.ref.id, items: [item] } satisfies FeedRequest, item, method);
    surface(st, method);
    if (body.length >= st.big) {
      if (kind === 'blocking') forwardCall(this, name, [item, options], 'blocking', 1, true);
      else forwardCall(this, name, [item], 'sync', 0);
      return;
    }
    sendAhead(st, body);
    waitRoomSync(st);
  };
}
