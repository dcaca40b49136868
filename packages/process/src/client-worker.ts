/**
 * The child's bridge thread: owns the sockets to the brokers of the parent
 * (and of any other process whose primitives this child was handed), relays
 * requests from the child's threads and routes replies back, and watches for
 * the parent's death.
 *
 *   thread --BroadcastChannel "conc.process.t<id>"--> here --socket--> broker
 *   broker --socket--> here --channel + wake word bump/notify--> thread
 *
 * Invariants:
 *   - Frames to one broker are written in the order the requests arrived
 *     from one thread (one BroadcastChannel per thread keeps order), so a
 *     thread's batched puts always precede its later requests.
 *   - Connections are made lazily, on the first request for a socket; frames
 *     wait (in order) while it connects; a broker that is not listening yet
 *     is retried for 10 s.
 *   - No orphans: if a broker's socket closes under us (the parent exited,
 *     threw, or was SIGKILLed), or our parent process changes (ppid polled
 *     every 200 ms), this process SIGKILLs itself. This runs on this thread,
 *     so it works while the child's main thread is busy.
 */
import { connect, type Socket } from 'node:net';
import { BroadcastChannel, workerData } from 'node:worker_threads';
import { FrameReader, FrameWriter, MB_READY } from './wire.js';

const mb = new Int32Array(workerData.mailbox as SharedArrayBuffer);
const parentPid: number = workerData.ppid;

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}
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
  Atomics.notify(mb, slot);
}

class Link {
  private socket: Socket | undefined;
  private writer: FrameWriter | undefined;
  private readonly waiting: unknown[] = [];
  private next = 1;
  private readonly routes = new Map<number, { t: number; c: number }>();
  private readonly byCaller = new Map<string, number>();
  private readonly started = Date.now();

  constructor(private readonly path: string) {
    this.open();
  }

  private open(): void {
    const socket = connect(this.path);
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      this.socket = socket;
      this.writer = new FrameWriter(socket);
      for (const m of this.waiting.splice(0)) this.writer.send(m);
    });
    const reader = new FrameReader();
    socket.on('data', (chunk) => reader.push(chunk, (m) => this.onReply(m as any)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') && Date.now() - this.started < 10_000) {
        setTimeout(() => this.open(), 20);
        return;
      }
      if (!connected) this.failAll(error);
    });
    socket.on('close', () => {
      if (connected) die(); // the parent's broker is gone: so is the parent
    });
  }

  private failAll(error: Error): void {
    for (const m of this.waiting.splice(0) as any[]) {
      if (typeof m.c === 'number') this.onReply({ c: m.c, ok: false, e: { name: 'Error', message: `conc: cannot reach the process that owns this primitive (${error.message})` } });
    }
  }

  send(t: number, msg: any): void {
    delete msg.sock;
    if (msg.k === 'abort') {
      const c = this.byCaller.get(`${t}:${msg.c}`);
      if (c === undefined) return;
      msg.c = c;
    } else if (typeof msg.c === 'number') {
      const c = this.next++;
      this.routes.set(c, { t, c: msg.c });
      this.byCaller.set(`${t}:${msg.c}`, c);
      msg.c = c;
    }
    if (this.writer) this.writer.send(msg);
    else this.waiting.push(msg);
  }

  private onReply(r: { c: number; ok: boolean; v?: unknown; e?: unknown }): void {
    const route = this.routes.get(r.c);
    if (!route) return;
    this.routes.delete(r.c);
    this.byCaller.delete(`${route.t}:${route.c}`);
    const link = threads.get(route.t);
    if (!link) return;
    r.c = route.c;
    link.bc.postMessage(r);
    bump(link.slot);
  }
}

const links = new Map<string, Link>();

function fromThread(t: number, msg: any): void {
  if (typeof msg?.sock !== 'string') return;
  let link = links.get(msg.sock);
  if (!link) links.set(msg.sock, (link = new Link(msg.sock)));
  link.send(t, msg);
}

const hello = new BroadcastChannel('conc.process.hello');
hello.onmessage = (e: any) => {
  const { t, slot } = e.data as { t: number; slot: number };
  const old = threads.get(t);
  if (old) old.bc.close();
  const bc = new BroadcastChannel(`conc.process.t${t}`);
  bc.onmessage = (m: any) => {
    if (m.data?.k !== 'ready') fromThread(t, m.data);
  };
  threads.set(t, { bc, slot });
  bc.postMessage({ k: 'ready' });
  bump(slot);
};

Atomics.store(mb, MB_READY, 1);
Atomics.notify(mb, MB_READY);
