/**
 * The broker thread: serves this process's primitives to child processes
 * over a Unix domain socket (frames: wire.ts). It runs in a worker thread of
 * the owning process, so it keeps serving while the owner's main thread is
 * blocked in a Sync call or busy computing, and it operates on the very
 * SharedArrayBuffer words the owner and its threads use.
 *
 * Algorithm, per connection (one per child process, or per grandchild that
 * was handed a reference):
 *   - Requests are started in arrival order. A call runs the real method on
 *     the revived primitive; a child's `xSync` runs the async `x` here (this
 *     thread never blocks), with an AbortSignal of the broker's inserted in
 *     its options so a disconnect can abort it. A child's own abort arrives
 *     as an 'abort' request for the call.
 *   - Each call runs "as" a token of the calling child thread (negative
 *     Int32s, one per (connection, child threadId), never reused), through
 *     core's token source backed by AsyncLocalStorage: RLock ownership is per
 *     child thread, and an await inside a method keeps the caller's token.
 *   - Holdings are tracked per connection: Lock acquisitions (count), the
 *     RLocks / Condition locks it touched (released for every token of the
 *     connection that still owns them), Semaphore permits, queue items
 *     handed out but not yet acknowledged as taken.
 *   - On disconnect (exit, throw, SIGKILL: the kernel closes the socket):
 *     abort every pending call (core's abort semantics: an aborted acquire
 *     holds nothing, an aborted get takes nothing), give them a moment to
 *     settle, then release what the connection held: a Lock / RLock with
 *     `releaseAbandoned` (the next holder sees `abandoned === true`),
 *     permits with release(n), unacknowledged queue items put back. A call
 *     that completes after the disconnect undoes itself the same way.
 *   - A malformed or unknown request gets an error reply (when it has a call
 *     id) and the connection keeps being served; a frame that cannot be
 *     parsed or is absurdly large closes only that connection.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type Socket } from 'node:net';
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { decode, setThreadTokenSource, shareTag } from '@conc/core';
import { serializeError } from '@conc/thread';
import { isOwnedLock, ruleOf } from './remote.js';
import { FrameReader, FrameWriter, frame } from './wire.js';

const { socket: socketPath, port } = workerData as { socket: string; port: MessagePort };

const als = new AsyncLocalStorage<number>();
setThreadTokenSource(() => als.getStore());

interface Rec {
  id: number;
  obj: any;
  tag: string;
}
const objects = new Map<number, Rec | Promise<Rec>>();

function register(msg: { id: number; tag: string; marker: unknown }): void {
  const p = decode(msg.marker).then(
    (obj) => {
      const rec = { id: msg.id, obj, tag: msg.tag };
      objects.set(msg.id, rec);
      return rec;
    },
    (error) => {
      objects.delete(msg.id);
      throw error;
    },
  );
  p.catch(() => {});
  objects.set(msg.id, p);
}
port.on('message', register);

function lookup(id: unknown): Rec | Promise<Rec> | undefined {
  if (typeof id !== 'number') return undefined;
  let r = objects.get(id);
  if (r === undefined) {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) register(m.message);
    r = objects.get(id);
  }
  return r;
}

let nextToken = 0;

function errorReply(c: number, error: unknown) {
  return { c, ok: false, e: serializeError(error) };
}

class Conn {
  private readonly writer: FrameWriter;
  private readonly reader = new FrameReader();
  private readonly tokens = new Map<number, number>();
  private readonly pending = new Map<number, AbortController>();
  private readonly inflightCalls = new Set<Promise<unknown>>();
  private readonly locks = new Map<number, number>();
  private readonly permits = new Map<number, number>();
  private readonly inflight = new Map<number, unknown[]>();
  private closed = false;
  private cleaned = false;
  private backlog: any[] | null = null;

  constructor(private readonly socket: Socket) {
    this.writer = new FrameWriter(socket);
    socket.on('data', (chunk) => {
      try {
        this.reader.push(chunk, (m) => this.receive(m));
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.onClose());
  }

  private reply(message: { c: number; ok: boolean; v?: unknown; e?: unknown }): void {
    if (this.closed) return;
    try {
      frame(message);
    } catch (error) {
      message = errorReply(message.c, new TypeError(`conc broker: the result cannot be sent to a process: ${(error as Error).message}`));
    }
    this.writer.send(message);
  }

  private tokenFor(t: unknown): number {
    const key = typeof t === 'number' ? t : -1;
    let token = this.tokens.get(key);
    if (token === undefined) {
      nextToken -= 1;
      token = nextToken;
      this.tokens.set(key, token);
    }
    return token;
  }

  private receive(msg: any): void {
    if (this.backlog) {
      this.backlog.push(msg);
      return;
    }
    this.handle(msg);
  }

  /** Start one request; if its object is still being revived, hold this and later requests until it is. */
  private handle(msg: any): void {
    if (typeof msg !== 'object' || msg === null || typeof msg.k !== 'string') {
      this.reply(errorReply(-1, new TypeError('conc broker: malformed request')));
      return;
    }
    const c = typeof msg.c === 'number' ? msg.c : -1;
    if (msg.k === 'bye') return this.reply({ c, ok: true });
    if (msg.k === 'abort') {
      this.pending.get(c)?.abort(new Error('aborted by the child'));
      return;
    }
    if (msg.k !== 'call' && msg.k !== 'getMany' && msg.k !== 'putMany' && msg.k !== 'ack') {
      this.reply(errorReply(c, new TypeError(`conc broker: unknown request kind ${JSON.stringify(msg.k)}`)));
      return;
    }
    const found = lookup(msg.o);
    if (found === undefined) {
      this.reply(errorReply(c, new TypeError(`conc broker: no primitive with id ${String(msg.o)}`)));
      return;
    }
    if (found instanceof Promise) {
      this.backlog = [msg];
      found.then(
        () => this.resume(),
        () => this.resume(),
      );
      return;
    }
    try {
      this.dispatch(msg, c, found);
    } catch (error) {
      this.reply(errorReply(c, error));
    }
  }

  private resume(): void {
    const backlog = this.backlog ?? [];
    this.backlog = null;
    while (backlog.length > 0 && !this.backlog) this.handle(backlog.shift());
    if (this.backlog) (this.backlog as any[]).push(...backlog);
  }

  private dispatch(msg: any, c: number, rec: Rec): void {
    const { obj } = rec;
    if (msg.k === 'putMany') {
      if (!Array.isArray(msg.items)) throw new TypeError('conc broker: putMany without items');
      for (const item of msg.items) {
        try {
          obj.putNowait(item);
        } catch {
          // A shut-down queue drops batched puts, as Python's feeder thread does.
        }
      }
      return;
    }
    if (msg.k === 'ack') {
      this.ack(rec, msg.n, msg.back === 1);
      return;
    }
    if (msg.k === 'getMany') {
      this.ack(rec, msg.ack, false);
      const ac = new AbortController();
      const options = { ...(isObject(msg.a?.[0]) ? msg.a[0] : {}), signal: ac.signal };
      const max = Math.max(1, Math.min(4096, Number(msg.max) || 1));
      const run = als.run(this.tokenFor(msg.t), () => obj.get(options));
      this.track(
        c,
        ac,
        Promise.resolve(run).then((first) => {
          const items = [first];
          let extra = Math.min(max - 1, Math.floor(Number(obj.qsize()) / 2));
          while (extra-- > 0) {
            try {
              items.push(obj.getNowait());
            } catch {
              break;
            }
          }
          const list = this.inflight.get(rec.id) ?? [];
          list.push(...items);
          this.inflight.set(rec.id, list);
          if (this.closed) this.release(rec);
          return items;
        }),
      );
      return;
    }
    // k === 'call'
    const token = this.tokenFor(msg.t);
    let name: string = msg.m;
    if (typeof name !== 'string') throw new TypeError('conc broker: call without a method name');
    if (msg.g === 1) {
      if (!(name in obj)) throw new TypeError(`conc broker: ${rec.tag} has no property ${name}`);
      this.reply({ c, ok: true, v: sendable(als.run(token, () => obj[name])) });
      return;
    }
    if (name.endsWith('Sync') && typeof obj[name.slice(0, -4)] === 'function') name = name.slice(0, -4);
    const fn = obj[name];
    if (typeof fn !== 'function' || name === 'constructor') {
      throw new TypeError(`conc broker: ${rec.tag.replace(/^conc\./, '')} has no method ${msg.m}`);
    }
    const args: unknown[] = Array.isArray(msg.a) ? msg.a : [];
    let ac: AbortController | undefined;
    if (typeof msg.s === 'number' && msg.s >= 0 && msg.s < 16) {
      ac = new AbortController();
      const given = args[msg.s];
      args[msg.s] = { ...(isObject(given) ? given : {}), signal: ac.signal };
    }
    const result = als.run(token, () => fn.apply(obj, args));
    const after = (v: unknown) => {
      this.account(rec, name, args, v);
      if (this.closed) this.release(rec);
      return v;
    };
    if (result && typeof (result as any).then === 'function') {
      this.track(c, ac, Promise.resolve(result).then(after));
    } else {
      this.reply({ c, ok: true, v: sendable(after(result)) });
    }
  }

  private track(c: number, ac: AbortController | undefined, p: Promise<unknown>): void {
    if (ac) this.pending.set(c, ac);
    const settled = p.then(
      (v) => this.reply({ c, ok: true, v: sendable(v) }),
      (e) => this.reply(errorReply(c, e)),
    );
    this.inflightCalls.add(settled);
    settled.finally(() => {
      this.pending.delete(c);
      this.inflightCalls.delete(settled);
    });
  }

  /** Record what a completed call gave to (or took back from) this connection. */
  private account(rec: Rec, name: string, args: unknown[], v: unknown): void {
    const rule = ruleOf(rec.tag);
    if (rule.lockOf) {
      const n = this.locks.get(rec.id) ?? 0;
      if ((name === 'acquire' || name === 'tryAcquire') && v === true) this.locks.set(rec.id, n + 1);
      else if (name === 'release') this.locks.set(rec.id, Math.max(0, n - 1));
      else if (!this.locks.has(rec.id)) this.locks.set(rec.id, 0);
    } else if (rule.permits) {
      const n = this.permits.get(rec.id) ?? 0;
      if ((name === 'acquire' || name === 'tryAcquire') && v === true) this.permits.set(rec.id, n + 1);
      else if (name === 'release') this.permits.set(rec.id, Math.max(0, n - (typeof args[0] === 'number' ? args[0] : 1)));
    }
  }

  private ack(rec: Rec, n: unknown, giveBack: boolean): void {
    const list = this.inflight.get(rec.id);
    if (!list) return;
    if (typeof n === 'number' && n > 0) list.splice(0, n);
    if (giveBack) this.putBack(rec, list.splice(0));
  }

  private putBack(rec: Rec, items: unknown[]): void {
    if (items.length === 0) return;
    const joinable = ruleOf(rec.tag).queue?.joinable;
    let chain: Promise<unknown> = Promise.resolve();
    for (const item of items) {
      chain = chain.then(async () => {
        await rec.obj.put(item);
        if (joinable) rec.obj.taskDone();
      });
    }
    chain.catch(() => {});
  }

  /** Give back everything this (closed) connection holds on `rec`. */
  private release(rec: Rec): void {
    const rule = ruleOf(rec.tag);
    try {
      if (rule.lockOf) {
        const lock = rule.lockOf(rec.obj);
        if (isOwnedLock(lock)) {
          for (const token of this.tokens.values()) lock.releaseAbandoned(token);
        } else if ((this.locks.get(rec.id) ?? 0) > 0 && lock.locked) {
          lock.releaseAbandoned();
        }
        this.locks.set(rec.id, 0);
      } else if (rule.permits) {
        const n = this.permits.get(rec.id) ?? 0;
        this.permits.set(rec.id, 0);
        if (n > 0) rec.obj.release(n);
      } else if (rule.queue) {
        const list = this.inflight.get(rec.id);
        if (list) this.putBack(rec, list.splice(0));
      }
    } catch (error) {
      process.stderr.write(`conc broker: could not release ${rec.tag} held by a dead child: ${(error as Error).message}\n`);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.pending.values()) ac.abort(new Error('conc: the child process disconnected'));
    const settle = Promise.allSettled([...this.inflightCalls]);
    const grace = new Promise((r) => setTimeout(r, 250));
    void Promise.race([settle, grace]).then(() => this.cleanup());
  }

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    const ids = new Set<number>([...this.locks.keys(), ...this.permits.keys(), ...this.inflight.keys()]);
    for (const id of ids) {
      const rec = objects.get(id);
      if (rec && !(rec instanceof Promise)) this.release(rec);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Results go back by value; a primitive (which would arrive as `{}`) is refused instead. */
function sendable(v: unknown): unknown {
  if (shareTag(v) !== undefined) return undefined;
  return v;
}

const server = createServer((socket) => new Conn(socket));
server.on('error', (error) => {
  process.stderr.write(`conc broker: ${error.message}\n`);
});
server.listen(socketPath);
