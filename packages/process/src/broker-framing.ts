/**
 * The framing layer of a broker connection: who gets in, how much it may
 * send, and how fast. A Conn (broker-conn.ts) extends it with what the
 * requests mean.
 *
 *   - Admission: the first frame must be a key registered by the owner for
 *     one of its children (broker-registry.ts admits), exactly KEY_BYTES
 *     long. Until then at most that one frame is buffered and nothing is
 *     parsed; a wrong or missing key, a first frame of another length, or no
 *     key within 5 s closes the connection without a word. Once admitted,
 *     an empty frame says so.
 *   - Size: a request frame is capped (wire.ts requestCap); a larger
 *     announced length closes the connection as soon as its 4 bytes are in.
 *     Bytes are buffered as a list of chunks (linear, whatever the size).
 *   - Fairness: a connection gets a bounded turn (FRAMES_PER_TURN frames or
 *     BYTES_PER_TURN bytes of bodies); what is left waits for the next turn
 *     of the event loop with the socket paused, so other connections are
 *     read in between. A connection that does not read its replies (more
 *     than WRITE_HIGH bytes queued) is not read either until they drain.
 */
import type { Socket } from 'node:net';
import { admits, maxRequest } from './broker-registry.js';
import { AUTH_LENGTH, FrameReader, FrameWriter } from './wire.js';

const AUTH_TIMEOUT_MS = 5000;
const FRAMES_PER_TURN = 256;
const BYTES_PER_TURN = 1024 * 1024;
const WRITE_HIGH = 16 * 1024 * 1024;

export abstract class FramedConn {
  private readonly writer: FrameWriter;
  private admitted = false;
  /** Before admission only the key's frame is accepted; then requests up to the cap. */
  private readonly reader = new FrameReader((len) => (this.admitted ? maxRequest(len) : AUTH_LENGTH));
  /** A turn's budget ran out with frames left: the rest is handled at setImmediate, the socket paused. */
  private backlogged = false;
  /** More than WRITE_HIGH bytes of replies unread by the peer: not read until they drain. */
  private writeFull = false;
  /** The socket has closed: nothing more is sent. */
  closed = false;

  /** A request frame of an admitted connection. */
  protected abstract receive(c: number, t: number, body: Buffer): void;
  /** The socket has closed (once). */
  protected abstract onClose(): void;

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
      if (this.closed) return;
      this.closed = true;
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

  send(c: number, body: Uint8Array): void {
    if (this.closed || c === 0) return;
    this.writer.send(c, 0, body);
    if (!this.writeFull && this.socket.writableLength > WRITE_HIGH) {
      this.writeFull = true;
      this.flow();
    }
  }
}
