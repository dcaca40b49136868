/**
 * The child's bridge thread: owns the sockets to the brokers of the parent
 * (and of any other process whose primitives this child was handed), relays
 * requests from the child's threads and routes replies back, and watches for
 * the parent's death. It never parses a body: requests arrive serialized
 * from the calling thread, replies go back as the broker wrote them.
 *
 *   thread --BroadcastChannel "conc.process.t<id>"--> here --socket--> broker
 *   broker --socket--> here --channel + wake word bump/wake--> thread
 *
 * Invariants:
 *   - Frames to one broker are written in the order the requests arrived
 *     from one thread (one BroadcastChannel per thread keeps order), so a
 *     thread's puts always precede its later requests.
 *   - Call ids are renumbered per socket (threads number their own calls);
 *     an abort names the call by the thread's id and is mapped the same way.
 *   - Connections are made lazily, on the first request for a socket; frames
 *     wait (in order) while it connects; a broker that is not listening yet
 *     is retried for 10 s. The first frame on a connection is this
 *     process's key for that broker (from the boot message, via workerData;
 *     wire.ts), the requests follow at once, without waiting for the answer
 *     (an empty frame). A connection closed before that answer was refused
 *     (no key, or a wrong one): its calls fail, and the process lives on.
 *   - No orphans: if a broker's socket closes under us (the parent exited,
 *     threw, or was SIGKILLed), or our parent process changes (ppid polled
 *     every 200 ms), this process SIGKILLs itself. This runs on this thread,
 *     so it works while the child's main thread is busy.
 */
import { connect, type Socket } from 'node:net';
import { serialize } from 'node:v8';
import { BroadcastChannel, workerData } from 'node:worker_threads';
import { wake } from '@conc/core';
import {
  type BridgeReady,
  type ErrorReply,
  FrameReader,
  FrameWriter,
  KEY_BYTES,
  MB_READY,
  type ThreadHello,
  type ThreadPost,
  type ThreadReply,
} from './wire.js';

const mb = new Int32Array(workerData.mailbox as SharedArrayBuffer);
const parentPid: number = workerData.ppid;
const keys = new Map<string, string>(Object.entries((workerData.keys ?? {}) as Record<string, string>));

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}
if (process.ppid !== parentPid) die();
setInterval(() => {
  if (process.ppid !== parentPid) die();
}, 200);

interface ThreadLink {
  bc: BroadcastChannel;
  slot: number;
}
const threads = new Map<number, ThreadLink>();

function bump(slot: number): void {
  Atomics.add(mb, slot, 1);
  wake(mb, slot);
}

class Link {
  private writer: FrameWriter | undefined;
  private readonly waiting: [number, number, Uint8Array][] = [];
  private next = 1;
  private readonly routes = new Map<number, { t: number; c: number }>();
  private readonly byCaller = new Map<string, number>();
  private readonly started = Date.now();
  /** Set once the connection failed for good: every request gets this reply. */
  private failed: Uint8Array | undefined;

  constructor(private readonly path: string) {
    const key = keys.get(path);
    if (key === undefined || key.length !== KEY_BYTES * 2) {
      this.fail(
        'conc: this process holds no key for the process that owns this primitive (a reference reaches a process only in the args of a Process started by conc)',
      );
      return;
    }
    this.open(Buffer.from(key, 'hex'));
  }

  private open(key: Buffer): void {
    const socket: Socket = connect(this.path);
    let connected = false;
    let admitted = false;
    socket.on('connect', () => {
      connected = true;
      this.writer = new FrameWriter(socket);
      this.writer.send(0, 0, key);
      for (const [c, t, b] of this.waiting.splice(0)) this.writer.send(c, t, b);
    });
    const reader = new FrameReader();
    socket.on('data', (chunk) =>
      reader.push(chunk, (c, _t, body) => {
        if (c === 0) admitted = true;
        else this.onReply(c, body);
      }),
    );
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (
        !connected &&
        (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') &&
        Date.now() - this.started < 10_000
      ) {
        setTimeout(() => this.open(key), 20);
        return;
      }
      if (!connected) this.fail(`conc: cannot reach the process that owns this primitive (${error.message})`);
    });
    socket.on('close', () => {
      if (admitted)
        die(); // the parent's broker is gone: so is the parent
      else if (connected)
        this.fail('conc: the process that owns this primitive refused this process (its key was not accepted)');
    });
  }

  /** Fail what waits and what is in flight, and every later request, with `message`. */
  private fail(message: string): void {
    this.writer = undefined;
    this.failed = serialize({ ok: false, e: { name: 'Error', message } } satisfies ErrorReply);
    for (const [c] of this.waiting.splice(0)) if (c !== 0) this.onReply(c, this.failed);
    for (const c of [...this.routes.keys()]) this.onReply(c, this.failed);
  }

  send(t: number, m: ThreadPost): void {
    let c = 0;
    if (m.x) {
      const mapped = this.byCaller.get(`${t}:${m.c}`);
      if (mapped === undefined) return; // answered already
      c = mapped;
    } else if (m.c !== 0) {
      c = this.next;
      this.next = this.next >= 0xfffffff0 ? 1 : this.next + 1;
      this.routes.set(c, { t, c: m.c });
      this.byCaller.set(`${t}:${m.c}`, c);
    }
    if (this.failed) {
      if (c !== 0) this.onReply(c, this.failed);
    } else if (this.writer) this.writer.send(c, t, m.b);
    else this.waiting.push([c, t, m.b]);
  }

  private onReply(c: number, body: Uint8Array): void {
    const route = this.routes.get(c);
    if (!route) return;
    this.routes.delete(c);
    this.byCaller.delete(`${route.t}:${route.c}`);
    const link = threads.get(route.t);
    if (!link) return;
    // A copy of exactly the body (the reader's buffer holds other frames too).
    link.bc.postMessage({ c: route.c, b: new Uint8Array(body) } satisfies ThreadReply);
    bump(link.slot);
  }
}

const links = new Map<string, Link>();

function fromThread(t: number, m: ThreadPost): void {
  if (typeof m?.s !== 'string' || !(m.b instanceof Uint8Array)) return;
  let link = links.get(m.s);
  if (!link) links.set(m.s, (link = new Link(m.s)));
  link.send(t, m);
}

const hello = new BroadcastChannel('conc.process.hello');
hello.onmessage = (e: any) => {
  const { t, slot } = e.data as ThreadHello;
  const old = threads.get(t);
  if (old) old.bc.close();
  const bc = new BroadcastChannel(`conc.process.t${t}`);
  bc.onmessage = (m: any) => {
    if ((m.data as BridgeReady)?.k !== 'ready') fromThread(t, m.data as ThreadPost);
  };
  threads.set(t, { bc, slot });
  bc.postMessage({ k: 'ready' } satisfies BridgeReady);
  bump(slot);
};

Atomics.store(mb, MB_READY, 1);
wake(mb, MB_READY);
