/**
 * The broker's side of the calls a primitive streams (its ProcessSpec's
 * `feed` and `lend`; a queue's puts and gets), per connection. The
 * primitive's hooks do the work (put one item in, take one out, put one
 * back); this file keeps the order and the books.
 *
 *   - Feed ('feed', a child thread's items sent ahead, one frame each):
 *     each goes in with `feed.now`, synchronously. If it says there is no
 *     room, the rest goes in with an awaited `feed.wait`, and until it is
 *     all in, the same child thread's later requests wait (the connection
 *     holds them, in order): an item sent ahead behaves as the blocking call
 *     it stands for, and what the thread did next cannot overtake it. Most
 *     feed frames want no reply (call id 0); a refusal of one is noted per
 *     child thread and primitive, and the next frame that asks for a reply
 *     (the child asks every so often, and before it ends) is answered with
 *     what was noted since the last answer (wire.ts FeedRefusals), or
 *     nothing. A `feed.final` refusal drops the rest of the frame, counted.
 *   - Lend ('take', one item per request): taken at once (`lend.now`;
 *     `wait: 0` asks for only that) or with `lend.wait` on the child's
 *     options (its timeout is the owner's) and a signal of the broker's. The
 *     item is lent: booked under a lend id with the calling child thread,
 *     and sent with that id. The child acknowledges it ('ack' { l }) as it
 *     takes it, before its call returns; a call the child gave up on in the
 *     meantime hands it back ('ack' { l, back: 1 }: `lend.restore`, at the
 *     tail). Acknowledgements are facts about the past: handled on arrival,
 *     even while the thread's other requests are held. A child Thread that
 *     ends sends 'ack' { all: 1 }: what is lent to it goes back, and so does
 *     whatever a take still pending for it brings. A dead child's lent items
 *     go back (giveBackAll).
 */
import { serialize } from 'node:v8';
import { peerError } from './errors.js';
import type { Served } from './broker-registry.js';
import { hookFailed, runAs } from './broker-holdings.js';
import { specOf } from './spec.js';
import type { AckRequest, LendRequest, OkReply, Reply } from './wire.js';

/** What the streams need of their connection (broker-conn.ts). */
export interface StreamConn {
  readonly closed: boolean;
  send(c: number, body: Uint8Array): void;
  /** Reply to call `c` when `p` settles (`p` resolves to a serialized reply); `ac` aborts it on the child's abort. */
  track(c: number, ac: AbortController, p: Promise<Uint8Array>): void;
  tokenFor(t: number): number;
  /** `served`'s holdings matter when the connection closes. */
  touch(served: Served): void;
  /** Hold thread `t`'s later requests until the returned function is called. */
  holdThread(t: number): () => void;
}

/** An item lent to child thread `t`. */
interface Lent {
  t: number;
  item: unknown;
}

/** Items of one child thread refused since the last answer: the first error, items dropped by a final refusal. */
interface Refusal {
  first: unknown;
  dropped: number;
  shut: boolean;
}

const OK = serialize({ ok: true } satisfies Reply);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Streams {
  /** Feeds in progress (waiting for room): a 'bye' is answered once they are in. */
  readonly putting = new Set<Promise<unknown>>();
  /** Items lent, not yet acknowledged as taken: per primitive id, by lend id. */
  private readonly lent = new Map<number, Map<number, Lent>>();
  private lends = 0;
  /** Child threads that have ended (sent 'ack' { all }): what a take brings them goes back. */
  private readonly gone = new Set<number>();
  /** Refusals of feed frames that wanted no reply, per `${thread}:${primitive id}`, until one asks. */
  private readonly refusals = new Map<string, Refusal>();

  constructor(private readonly conn: StreamConn) {}

  /** 'feed': `items` sent ahead by thread `t`; `c` 0 wants no reply. */
  feed(c: number, t: number, served: Served, items: unknown): void {
    if (!Array.isArray(items)) throw new TypeError('conc broker: feed without items');
    const feed = specOf(served.tag).feed!;
    const target = served.obj;
    const key = `${t}:${served.id}`;
    let i = 0;
    const refuse = (error: unknown, dropped: number) => {
      let r = this.refusals.get(key);
      if (!r) this.refusals.set(key, (r = { first: error, dropped: 0, shut: false }));
      if (feed.final?.(error)) {
        r.shut = true;
        r.dropped += dropped;
      }
    };
    /** All in (or refused): answer a frame that asks, with what was refused since the last answer. */
    const answer = () => {
      if (c === 0) return;
      const r = this.refusals.get(key);
      this.refusals.delete(key);
      const v = r ? { e: peerError(r.first), n: r.dropped, s: r.shut } : undefined;
      this.conn.send(c, v ? serialize({ ok: true, v } satisfies Reply) : OK);
    };
    for (; i < items.length; i++) {
      try {
        if (!feed.now(target, items[i])) break;
      } catch (error) {
        if (feed.final?.(error)) {
          refuse(error, items.length - i);
          answer();
          return;
        }
        refuse(error, 0); // an item it refuses (too large): the others go in
      }
    }
    if (i === items.length) {
      answer();
      return;
    }
    // No room: wait for it, holding this thread's later requests.
    const resume = this.conn.holdThread(t);
    const rest = async () => {
      for (; i < items.length; i++) {
        try {
          await feed.wait(target, items[i]);
        } catch (error) {
          if (feed.final?.(error)) {
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
      resume();
    });
  }

  /** 'take': move one item to child thread `t`, taken now (`wait: 0`) or by `lend.wait` with the child's options. */
  take(c: number, t: number, served: Served, msg: LendRequest): void {
    const lend = specOf(served.tag).lend!;
    this.conn.touch(served);
    const source = served.obj;
    if (msg.wait === 0) {
      const item = lend.now(source); // none: the error reply
      this.conn.send(c, this.book(served, t, item));
      return;
    }
    // An item there now is taken now (a take with timeout 0, or aborted a moment later, still gets it).
    let got = false;
    let first: unknown;
    try {
      first = lend.now(source);
      got = true;
    } catch {
      // none now: the wait below waits, or says why not in its own words
    }
    if (got) {
      this.conn.send(c, this.book(served, t, first));
      return;
    }
    const ac = new AbortController();
    const given = Array.isArray(msg.a) ? msg.a[0] : undefined;
    const options = { ...(isObject(given) ? given : {}), signal: ac.signal };
    const p = runAs(this.conn.tokenFor(t), () => lend.wait(source, options)).then((item) => {
      // Nobody is waiting for it any more (aborted, the thread ended, the child is gone): back it goes.
      if (this.conn.closed || this.gone.has(t) || ac.signal.aborted) {
        this.giveBack(served, [item]);
        throw ac.signal.reason ?? new Error('conc broker: the take was given up');
      }
      return this.book(served, t, item);
    });
    this.conn.track(c, ac, p);
  }

  /** Book `item` as lent to thread `t`; the reply that carries it and its lend id. */
  private book(served: Served, t: number, item: unknown): Buffer {
    const l = ++this.lends;
    let books = this.lent.get(served.id);
    if (!books) this.lent.set(served.id, (books = new Map()));
    books.set(l, { t, item });
    return serialize({ ok: true, v: item, l } satisfies OkReply);
  }

  /** 'ack' { l }: lent item l was taken; { l, back: 1 }: it comes back; { all: 1 }: thread t has ended. */
  ack(served: Served, t: number, msg: AckRequest): void {
    const books = this.lent.get(served.id);
    if (msg.all === 1) {
      this.gone.add(t);
      if (!books) return;
      const back: unknown[] = [];
      for (const [l, e] of books) {
        if (e.t !== t) continue;
        books.delete(l);
        back.push(e.item);
      }
      this.giveBack(served, back);
      return;
    }
    const e = typeof msg.l === 'number' ? books?.get(msg.l) : undefined;
    if (!e || e.t !== t) return;
    books!.delete(msg.l!);
    if (msg.back === 1) this.giveBack(served, [e.item]);
  }

  /** The connection is gone: every item lent to it goes back. */
  giveBackAll(served: Served): void {
    const books = this.lent.get(served.id);
    if (!books) return;
    this.giveBack(
      served,
      [...books.values()].map((e) => e.item),
    );
    books.clear();
  }

  /** Each item back at once where it can be (`lend.restore`), not one after another's promise. */
  private giveBack(served: Served, items: unknown[]): void {
    const lend = specOf(served.tag).lend!;
    for (const item of items) {
      try {
        lend.restore(served.obj, item);
      } catch (error) {
        hookFailed('giving an item back', served.tag, error);
      }
    }
  }
}
