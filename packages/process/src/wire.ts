/**
 * The wire between a child's client thread and a parent's broker thread: a
 * Unix domain socket carrying length-prefixed frames, each one a message
 * serialized with v8.serialize (structured clone: queue items keep their
 * types, `null` and `undefined` included).
 *
 *   frame = u32le length | v8.serialize(message)
 *
 * Writers coalesce: frames queued in one event-loop turn go out in one
 * socket.write (FrameWriter), so a burst of calls costs one syscall.
 */
import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';

/** Client -> broker. `t` is the calling thread's threadId in the child. */
export type Request =
  | { k: 'call'; c: number; t: number; o: number; m: string; a: unknown[]; g?: 1; s?: number; sync?: 1 }
  | { k: 'abort'; c: number }
  | { k: 'putMany'; o: number; t: number; items: unknown[] }
  | { k: 'getMany'; c: number; t: number; o: number; a: unknown[]; max: number; ack: number; sync?: 1 }
  | { k: 'ack'; o: number; n: number; back?: 1 }
  | { k: 'bye'; c: number };

/** Broker -> client. */
export type Reply = { c: number; ok: true; v?: unknown } | { c: number; ok: false; e: unknown };

export function frame(message: unknown): Buffer {
  const body = serialize(message);
  const out = Buffer.allocUnsafe(body.length + 4);
  out.writeUInt32LE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Cut a byte stream into messages. Throws on a frame that does not deserialize. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onMessage: (message: unknown) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let at = 0;
    while (this.buf.length - at >= 4) {
      const len = this.buf.readUInt32LE(at);
      if (len > 512 * 1024 * 1024) throw new Error(`frame of ${len} bytes refused`);
      if (this.buf.length - at - 4 < len) break;
      const body = this.buf.subarray(at + 4, at + 4 + len);
      at += 4 + len;
      let message: unknown;
      let bad = false;
      try {
        message = deserialize(body);
      } catch {
        bad = true;
      }
      onMessage(bad ? { k: '#malformed' } : message);
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

  send(message: unknown): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame(message));
  }

  private uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}

/** The child's mailbox (Int32 words of a SharedArrayBuffer): a slot counter, a ready flag, one wake word per thread. */
export const MB_NEXT_SLOT = 0;
export const MB_READY = 1;
export const MB_FIRST_SLOT = 2;
export const MB_WORDS = 4096;
