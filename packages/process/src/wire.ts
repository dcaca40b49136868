/**
 * The wire between a child's bridge thread and a parent's broker thread: a
 * Unix domain socket carrying length-prefixed frames. The routing fields sit
 * in a fixed binary header so that the bridge thread forwards bodies without
 * ever parsing them: a body is serialized once (v8.serialize, structured
 * clone: queue items keep their types, `null` and `undefined` included) by
 * the thread that sends it and deserialized once by the thread it is for.
 *
 *   frame = u32le length of the rest | u32le c | i32le t | body
 *
 *   c     the call id (0: no reply wanted). Child threads number their calls;
 *         the bridge renumbers them per socket and maps the replies back.
 *   t     the calling child thread's threadId (requests; 0 in replies).
 *   body  v8.serialize(Request) or v8.serialize(Reply).
 *
 * A connection opens with the key the child received for this broker over
 * its own IPC channel (a frame c = 0, t = 0 whose body is the key, see KEY_BYTES), answered by an
 * empty frame; the broker reads nothing else from a connection before it.
 * Request frames are capped (requestCap): a larger announced length closes
 * the connection before its body is buffered.
 *
 * Writers coalesce: frames queued in one tick go out in one socket.write
 * (FrameWriter), so a burst of calls costs one syscall.
 */
import type { Socket } from 'node:net';
import type { SerializedError } from './errors.js';

// ---- bodies of request frames (child -> broker) ------------------------------

/** Call public method `m` of primitive `o` with args `a` (`g: 1`: read public getter `m`); `s`: index of the options. */
export interface CallRequest {
  k: 'call';
  o: number;
  m: string;
  a: unknown[];
  g?: 1;
  s?: number;
}
/** Abort the call the frame's call id names (of the frame's thread). */
export interface AbortRequest {
  k: 'abort';
}
/** Items sent ahead to a primitive's feed (ProcessFeed); an empty list only asks for what was refused. */
export interface FeedRequest {
  k: 'feed';
  o: number;
  items: unknown[];
}
/** Take one item of a primitive's lend (ProcessLend) with options `a[0]`; `wait: 0`: only if there is one now. */
export interface LendRequest {
  k: 'take';
  o: number;
  a: unknown[];
  wait?: 0;
}
/** Lent item `l` was taken (`back: 1`: it goes back); `all: 1`: the thread has ended, all lent to it goes back. */
export interface AckRequest {
  k: 'ack';
  o: number;
  l?: number;
  back?: 1;
  all?: 1;
}
/** The thread is done: answered once every put of the connection still in progress is in. */
export interface ByeRequest {
  k: 'bye';
}
/** Client -> broker (the body of a request frame). */
export type Request = CallRequest | AbortRequest | FeedRequest | LendRequest | AckRequest | ByeRequest;

// ---- bodies of reply frames (broker -> child) --------------------------------

/** Success: the value (encoded by core if it holds primitives); `l`: the lend id of an item a LendRequest brings. */
export interface OkReply {
  ok: true;
  v?: unknown;
  l?: number;
}
/** Failure: the error as peers get it (no stack); `n`: items a shutdown dropped. */
export interface ErrorReply {
  ok: false;
  e: SerializedError;
  n?: number;
}
export type Reply = OkReply | ErrorReply;

/** The value of the OkReply to a FeedRequest that asked, when something was refused since the last answer. */
export interface FeedRefusals {
  /** The first refusal. */
  e: SerializedError;
  /** Items dropped by a final refusal (shut down). */
  n: number;
  /** A final refusal came: every later item is refused. */
  s: boolean;
}

// ---- between a child's threads and its bridge thread (client-worker.ts) ----------

/** A thread's frame for the bridge: socket `s`, the thread's call id `c` (0: no reply), body `b`; `x: 1`: abort call c. */
export interface ThreadPost {
  s: string;
  c: number;
  b: Uint8Array;
  x?: 1;
}
/** A reply for a thread: its call id and the reply body as the broker wrote it. */
export interface ThreadReply {
  c: number;
  b: Uint8Array;
}
/** A thread says hello on 'conc.process.hello' with its threadId and wake word. */
export interface ThreadHello {
  t: number;
  slot: number;
}
/** The bridge's answer to a hello, on the thread's channel. */
export interface BridgeReady {
  k: 'ready';
}

// ---- owner's thread -> broker thread (broker.ts) -------------------------------

/** A primitive to serve: `marker` is its thread encoding; `cap`: the largest item a child may send it. */
export interface Registration {
  id: number;
  tag: string;
  marker: unknown;
  cap?: number;
}
/** A child's key to admit, or one to forget (hex). */
export type OwnerMessage = Registration | { key: string } | { revoke: string };

const HEADER = 12;
/** Replies (broker -> child): refuse frames larger than this (a corrupt length would otherwise make us buffer forever). */
const MAX_FRAME = 512 * 1024 * 1024;
/**
 * Requests (child -> broker): the cap is a few MiB, raised to fit the
 * largest item a queue served by the broker can hold (twice its
 * byteCapacity: an item's v8 serialization is at most about twice its size
 * in the queue) plus room for the request around it. See requestCap.
 */
export const REQUEST_CAP_MIN = 8 * 1024 * 1024;

/** The largest request a broker accepts, given the largest byteCapacity of the queues it serves. */
export function requestCap(largestQueueCapacity: number): number {
  return Math.max(REQUEST_CAP_MIN, 2 * largestQueueCapacity + 1024 * 1024);
}

/**
 * Authentication: the first frame on a connection has c = 0, t = 0 and the key as body,
 * exactly KEY_BYTES of key (see broker-framing.ts); the broker answers it
 * with an empty frame `(c = 0)` and then serves requests.
 */
export const KEY_BYTES = 32;
export const AUTH_LENGTH = 8 + KEY_BYTES;

export interface Frame {
  c: number;
  t: number;
  body: Buffer;
}

/**
 * Cut a byte stream into frames. Chunks are kept in a list (a frame spread
 * over many chunks is copied once, when it is complete: linear, whatever the
 * frame's size), and a frame's announced length is checked against `max()`
 * as soon as its first 4 bytes are in, before any of its body is buffered.
 * `next()` (or `push`'s callback) throws on a length out of bounds: the
 * caller closes the connection.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private head = 0; // offset of the first unread byte in chunks[0]
  private size = 0; // unread bytes buffered
  private len = -1; // announced length of the frame being read, once its first 4 bytes are in

  constructor(private readonly max: (len: number) => number = () => MAX_FRAME) {}

  /** Add a chunk; throws at once if it completes the length of a frame that is out of bounds. */
  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.checkLength();
  }

  /** The next complete frame (its body valid until the reader is used again), or undefined. */
  next(): Frame | undefined {
    this.checkLength();
    if (this.len < 0 || this.size < 4 + this.len) return undefined;
    const bytes = this.take(4 + this.len);
    this.len = -1;
    // The next frame's length is checked when it is asked for (its bound may depend on this one: admission).
    return { c: bytes.readUInt32LE(4), t: bytes.readInt32LE(8), body: bytes.subarray(HEADER) };
  }

  /** Add a chunk and hand out every frame now complete. */
  push(chunk: Buffer, onFrame: (c: number, t: number, body: Buffer) => void): void {
    this.add(chunk);
    for (let f = this.next(); f; f = this.next()) onFrame(f.c, f.t, f.body);
  }

  private checkLength(): void {
    if (this.len >= 0 || this.size < 4) return;
    const first = this.chunks[0];
    const len = first.length - this.head >= 4 ? first.readUInt32LE(this.head) : this.peek(4).readUInt32LE(0);
    if (len < 8 || len > this.max(len)) throw new Error(`conc: frame of ${len} bytes refused`);
    this.len = len;
  }

  /** The first n buffered bytes, without consuming them (n small). */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    let off = this.head;
    for (let i = 0; at < n; i++) {
      const c = this.chunks[i];
      const k = Math.min(n - at, c.length - off);
      c.copy(out, at, off, off + k);
      at += k;
      off = 0;
    }
    return out;
  }

  /** Consume n buffered bytes: a view if they sit in one chunk, else one copy of exactly them. */
  private take(n: number): Buffer {
    this.size -= n;
    const first = this.chunks[0];
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const k = Math.min(n - at, c.length - this.head);
      c.copy(out, at, this.head, this.head + k);
      at += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}

/**
 * Write frames at once, but corked until the end of the current tick, so
 * frames sent in one burst of synchronous code go out in one syscall
 * without waiting for the next event-loop turn.
 */
export class FrameWriter {
  private corked = false;

  constructor(private readonly socket: Socket) {}

  send(c: number, t: number, body: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    const head = Buffer.allocUnsafe(HEADER);
    head.writeUInt32LE(body.length + 8, 0);
    head.writeUInt32LE(c >>> 0, 4);
    head.writeInt32LE(t | 0, 8);
    this.socket.write(head);
    this.socket.write(body);
  }

  private uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}

/**
 * The child's mailbox (Int32 words of a SharedArrayBuffer): a slot counter, a
 * ready flag, a count of (thread, queue) pairs with puts not yet confirmed
 * by the owner (the main thread waits for 0 before the child exits), then
 * one wake word per thread.
 */
export const MB_NEXT_SLOT = 0;
export const MB_READY = 1;
export const MB_BUSY = 2;
export const MB_FIRST_SLOT = 3;
export const MB_WORDS = 4096;
