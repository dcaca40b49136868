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
 * Writers coalesce: frames queued in one tick go out in one socket.write
 * (FrameWriter), so a burst of calls costs one syscall.
 */
import type { Socket } from 'node:net';

/** Client -> broker (the body of a request frame). */
export type Request =
  | { k: 'call'; o: number; m: string; a: unknown[]; g?: 1; s?: number }
  | { k: 'abort' }
  | { k: 'putMany'; o: number; items: unknown[] }
  | { k: 'getMany'; o: number; a: unknown[]; max: number; ack: number; wait?: 0 }
  | { k: 'ack'; o: number; n: number; back?: 1 }
  | { k: 'bye' };

/** Broker -> client (the body of a reply frame). */
export type Reply = { ok: true; v?: unknown } | { ok: false; e: unknown };

export const HEADER = 12;
/** Refuse frames larger than this (a corrupt length would otherwise make us buffer forever). */
export const MAX_FRAME = 512 * 1024 * 1024;

/** A complete frame around an already serialized body. */
export function frame(c: number, t: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out.writeUInt32LE(body.length + 8, 0);
  out.writeUInt32LE(c >>> 0, 4);
  out.writeInt32LE(t | 0, 8);
  out.set(body, HEADER);
  return out;
}

/**
 * Cut a byte stream into frames: `onFrame(c, t, body)`, body a view into
 * the reader's buffer (valid only during the call). Throws on an absurd length.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onFrame: (c: number, t: number, body: Buffer) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let at = 0;
    while (this.buf.length - at >= 4) {
      const len = this.buf.readUInt32LE(at);
      if (len > MAX_FRAME || len < 8) throw new Error(`conc: frame of ${len} bytes refused`);
      if (this.buf.length - at - 4 < len) break;
      const c = this.buf.readUInt32LE(at + 4);
      const t = this.buf.readInt32LE(at + 8);
      const body = this.buf.subarray(at + HEADER, at + 4 + len);
      at += 4 + len;
      onFrame(c, t, body);
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
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
 * ready flag, a count of threads with unsent batched puts plus batches not
 * yet answered (the main thread waits for 0 before the child exits), then
 * one wake word per thread.
 */
export const MB_NEXT_SLOT = 0;
export const MB_READY = 1;
export const MB_BUSY = 2;
export const MB_FIRST_SLOT = 3;
export const MB_WORDS = 4096;
