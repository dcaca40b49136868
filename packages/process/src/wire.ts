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
 * its own IPC channel (`frame(0, 0, key)`, see KEY_BYTES), answered by an
 * empty frame; the broker reads nothing else from a connection before it.
 * Request frames are capped (requestCap): a larger announced length closes
 * the connection before its body is buffered.
 *
 * Writers coalesce: frames queued in one tick go out in one socket.write
 * (FrameWriter), so a burst of calls costs one syscall.
 */
import type { Socket } from 'node:net';

/** Client -> broker (the body of a request frame). */
export type Request =
  | { k: 'call'; o: number; m: string; a: unknown[]; g?: 1; s?: number }
  | { k: 'abort' }
  | { k: 'putMany'; o: number; items: unknown[] }
  | { k: 'getMany'; o: number; a: unknown[]; wait?: 0 }
  | { k: 'ack'; o: number; l?: number; back?: 1; all?: 1 }
  | { k: 'bye' };

/** Broker -> client (the body of a reply frame); `l`: the lend id of the queue item a getMany brings. */
export type Reply = { ok: true; v?: unknown; l?: number } | { ok: false; e: unknown };

export const HEADER = 12;
/** Replies (broker -> child): refuse frames larger than this (a corrupt length would otherwise make us buffer forever). */
export const MAX_FRAME = 512 * 1024 * 1024;
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
 * Authentication: the first frame on a connection is `frame(0, 0, key)`,
 * exactly KEY_BYTES of key (see broker-worker.ts); the broker answers it
 * with an empty frame `(c = 0)` and then serves requests.
 */
export const KEY_BYTES = 32;
export const AUTH_LENGTH = 8 + KEY_BYTES;

/** A complete frame around an already serialized body. */
export function frame(c: number, t: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out.writeUInt32LE(body.length + 8, 0);
  out.writeUInt32LE(c >>> 0, 4);
  out.writeInt32LE(t | 0, 8);
  out.set(body, HEADER);
  return out;
}

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

  /** Bytes buffered and not yet handed out as frames. */
  get buffered(): number {
    return this.size;
  }

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
