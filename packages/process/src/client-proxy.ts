/**
 * Proxies: how a reference `{ socket, id, tag, info }` revives in a child's
 * thread. A proxy is an object whose prototype is a per-class prototype,
 * Object.create(Cls.prototype), that overrides the public methods and
 * getters its class lists in its ProcessSpec (and those of its registered
 * base classes) with forwarding calls (client-call.ts), so `instanceof`
 * holds and inherited helpers (Acquirable's guard / withLock, the spec's
 * `local` members such as Condition.waitFor, async iteration) run locally
 * on top of the forwarded methods. Methods of the spec's `feed` and `lend`
 * are streamed instead (client-feed.ts, client-lend.ts).
 *
 *   kind of a method: `async` if the spec says so (or it is an async
 *   function); `blocking` if it is `xSync` and `x` is async; else `sync`.
 *   Options are the last parameter of `x` (their signal becomes an abort).
 *
 * Invariants:
 *   - One prototype per class and thread; one proxy per reference and
 *     thread (the same primitive handed twice is one object).
 *   - Only the public API is forwarded (the broker serves nothing else);
 *     other members stay inherited and run on the proxy itself.
 *   - The class's own toString may read raw words, which a proxy has not:
 *     unless the spec keeps it local, a proxy says what it is.
 *   - The facts of `describe` become own properties (a queue's maxsize, a
 *     Condition's lock, itself a proxy).
 */
import { BRAND, REMOTE, type ShareEntry, decodeSync, isEncoded } from '@conc/core';
import { type CallKind, REF, type Ref, forwardCall, readGetter, refOf } from './client-call.js';
import { mailboxKey, noteItemCap } from './client-channel.js';
import { feedMethod } from './client-feed.js';
import { lendMethod } from './client-lend.js';
import { type Spec, isPublicGetter, isPublicMethod, labelOf, specOf } from './spec.js';

/** This process's keys for brokers (socket -> hex key): set by the child's bootstrap, or from references (threads). */
const keysKey = Symbol.for('conc.process.keys.v1');
/** broker.ts's collector of the sockets a child's args point to. */
const sharingKey = Symbol.for('conc.process.sharing.v1');
const bridgeUrl = require('node:url').pathToFileURL(require('node:path').join(__dirname, 'client.cjs')).href as string;

function keyFor(socket: string): string | undefined {
  return ((globalThis as any)[keysKey] as Map<string, string> | undefined)?.get(socket);
}

function optionsIndex(proto: any, name: string): number {
  const fn = proto[name];
  return typeof fn === 'function' ? Math.max(0, fn.length - 1) : 0;
}

function isAsync(spec: Spec, proto: any, name: string): boolean {
  return spec.async?.includes(name) === true || proto[name]?.constructor?.name === 'AsyncFunction';
}

/** How the proxy calls method `name` of `proto`'s class. */
function kindOf(spec: Spec, proto: any, name: string): CallKind {
  if (isAsync(spec, proto, name)) return 'async';
  if (name.endsWith('Sync') && isAsync(spec, proto, name.slice(0, -4))) return 'blocking';
  return 'sync';
}

function define(proto: object, name: string, value: Function): void {
  Object.defineProperty(proto, name, { configurable: true, writable: true, value });
}

/** The async method among `names` (a feed's or lend's), which names it in messages. */
function asyncOf(spec: Spec, base: object, names: readonly string[]): string {
  return names.find((n) => kindOf(spec, base, n) === 'async') ?? names[0];
}

const protos = new Map<string, object>();

function protoFor(entry: ShareEntry): object {
  let proto = protos.get(entry.tag);
  if (proto) return proto;
  if (!entry.cls) throw new Error(`conc: ${entry.tag} was registered without its class`);
  const base = entry.cls.prototype;
  proto = Object.create(base) as object;
  const spec = specOf(entry.tag);
  const local = new Set<string | symbol>(spec.local ?? []);
  const all = new Set<string>();
  for (let p = base; p && Object.hasOwn(p, BRAND); p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) all.add(name);
  }
  const done = new Set<string>();
  for (let p = base; p && Object.hasOwn(p, BRAND); p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || done.has(name) || local.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(p, name)!;
      if (d.get ? !isPublicGetter(spec, name) : !isPublicMethod(spec, name)) continue;
      done.add(name);
      if (d.get) {
        Object.defineProperty(proto, name, {
          configurable: true,
          get(this: object) {
            return readGetter(this, name);
          },
        });
        continue;
      }
      if (typeof d.value !== 'function') continue;
      const kind = kindOf(spec, base, name);
      const twin = kind === 'blocking' ? name.slice(0, -4) : name;
      const s = kind === 'sync' ? 0 : optionsIndex(base, twin);
      const pair = kind === 'blocking' || all.has(`${name}Sync`);
      define(
        proto,
        name,
        {
          [name](this: object, ...args: unknown[]) {
            return forwardCall(this, name, args, kind, s, pair);
          },
        }[name],
      );
    }
  }
  if (!local.has('toString')) {
    const label = labelOf(entry.tag);
    define(
      proto,
      'toString',
      {
        toString() {
          return `${label}(served by another process)`;
        },
      }.toString,
    );
  }
  const { feed, lend } = spec;
  if (feed) {
    const async = asyncOf(spec, base, feed.methods);
    for (const name of feed.methods) {
      if (name in base && isPublicMethod(spec, name))
        define(proto, name, feedMethod(feed, name, kindOf(spec, base, name), async));
    }
  }
  if (lend) {
    const async = asyncOf(spec, base, lend.methods);
    for (const name of lend.methods) {
      if (name in base && isPublicMethod(spec, name))
        define(proto, name, lendMethod(lend, name, kindOf(spec, base, name), async));
    }
  }
  Object.defineProperty(proto, REMOTE, {
    value(this: object, destination: string) {
      const ref = refOf(this);
      const out: Ref = {
        bridge: bridgeUrl,
        socket: ref.socket,
        id: ref.id,
        tag: ref.tag,
        info: ref.info,
        cap: ref.cap,
      };
      if (destination === 'thread') {
        // Within this process: the thread may start a Process of its own and must pass the key on.
        out.mailbox = (globalThis as any)[mailboxKey];
        const key = keyFor(ref.socket);
        if (key !== undefined) out.key = key;
      } else {
        // To a child process: its key for this socket goes in its boot message (Process.start), not here.
        (globalThis as any)[sharingKey]?.add(ref.socket);
      }
      return out;
    },
  });
  protos.set(entry.tag, proto);
  return proto;
}

const proxies = new Map<string, object>();

/** Turn a reference into a proxy of its class (one per reference and thread). */
export function reviveRemote(ref: Ref, entry: ShareEntry): unknown {
  const key = `${ref.socket}#${ref.id}`;
  const known = proxies.get(key);
  if (known) return known;
  if (ref.mailbox) (globalThis as any)[mailboxKey] ??= ref.mailbox;
  if (typeof ref.key === 'string') {
    const g = globalThis as any;
    const keys: Map<string, string> = (g[keysKey] ??= new Map());
    if (!keys.has(ref.socket)) keys.set(ref.socket, ref.key);
  }
  noteItemCap(ref.socket, ref.cap);
  const proxy = Object.create(protoFor(entry));
  Object.defineProperty(proxy, REF, { value: ref });
  for (const [k, v] of Object.entries(ref.info ?? {})) {
    Object.defineProperty(proxy, k, {
      value: isEncoded(v) ? decodeSync(v) : v,
      enumerable: true,
    });
  }
  proxies.set(key, proxy);
  return proxy;
}
