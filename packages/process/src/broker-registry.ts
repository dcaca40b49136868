/**
 * The broker's registry: the primitives it serves, by id, and the keys of
 * the owner's children it admits. Both are fed by the owner's thread over a
 * MessagePort (broker.ts); a lookup or an admission that misses drains the
 * port first, since the owner posts a registration (or a key) before the
 * reference (or the boot message) that needs it can reach any child.
 *
 *   - Ids from the owner count up from 1; a result that is a primitive is
 *     registered here, under ids from LOCAL_IDS up (the owner never reaches
 *     them), and goes back as a reference to it.
 *   - A registration is revived asynchronously (its module may need
 *     loading): until then its entry is the promise of it.
 *   - Admission compares a presented key with every live key in constant
 *     time each (crypto.timingSafeEqual).
 *   - The request cap (wire.ts requestCap) follows the largest item any
 *     primitive served here accepts (ProcessSpec.requestBytes).
 */
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { type Encoded, decode, setProcessSharer } from '@conc/core';
import { describeForChild, requestBytesOf } from './spec.js';
import { KEY_BYTES, type OwnerMessage, type Registration, requestCap } from './wire.js';

/** A primitive served here. */
export interface Served {
  id: number;
  obj: any;
  tag: string;
}

const objects = new Map<number, Served | Promise<Served>>();
/** The keys of the owner's live children (broker.ts keysForChild). */
const keys: Buffer[] = [];
/** The largest request body any primitive served here accepts. */
let largestItem = 0;
let port: MessagePort;

function noteCapacity(cap: unknown): void {
  if (typeof cap === 'number' && cap > largestItem) largestItem = cap;
}

function fromOwner(msg: OwnerMessage): void {
  if ('key' in msg && typeof msg.key === 'string') keys.push(Buffer.from(msg.key, 'hex'));
  else if ('revoke' in msg && typeof msg.revoke === 'string') {
    const gone = Buffer.from(msg.revoke, 'hex');
    const i = keys.findIndex((k) => k.equals(gone));
    if (i >= 0) keys.splice(i, 1);
  } else register(msg as Registration);
}

function drainOwner(): void {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) fromOwner(m.message);
}

function register(msg: Registration): void {
  noteCapacity(msg.cap);
  const p = decode(msg.marker as Encoded).then(
    (obj) => {
      const served = { id: msg.id, obj, tag: msg.tag };
      objects.set(msg.id, served);
      return served;
    },
    (error) => {
      objects.delete(msg.id);
      throw error;
    },
  );
  p.catch(() => {});
  objects.set(msg.id, p);
}

/** The primitive with id `id` (a promise while it is revived), or undefined. */
export function lookup(id: unknown): Served | Promise<Served> | undefined {
  if (typeof id !== 'number') return undefined;
  let r = objects.get(id);
  if (r === undefined) {
    drainOwner();
    r = objects.get(id);
  }
  return r;
}

/** The primitive with id `id` if it is revived already (acknowledgements are never held for a revival). */
export function revived(id: unknown): Served | undefined {
  const r = typeof id === 'number' ? objects.get(id) : undefined;
  return r instanceof Promise ? undefined : r;
}

/** Is `presented` the key of one of the owner's children? (every key compared, in constant time each) */
export function admits(presented: Buffer): boolean {
  if (presented.length !== KEY_BYTES) return false;
  let found = false;
  for (const k of keys) if (timingSafeEqual(k, presented)) found = true;
  if (!found) {
    drainOwner(); // a key registered just before its child's boot message went out
    for (const k of keys) if (timingSafeEqual(k, presented)) found = true;
  }
  return found;
}

/** The largest request frame accepted now (drains the owner's registrations first if `len` is above it). */
export function maxRequest(len: number): number {
  if (len > requestCap(largestItem)) drainOwner();
  return requestCap(largestItem);
}

const LOCAL_IDS = 2 ** 30;

/** Listen to the owner on `ownerPort`, and serve results that are primitives as references to `socket`. */
export function startRegistry(ownerPort: MessagePort, socket: string): void {
  port = ownerPort;
  port.on('message', fromOwner);
  const bridge = pathToFileURL(join(__dirname, 'client.cjs')).href;
  const localIds = new WeakMap<object, number>();
  let nextLocal = LOCAL_IDS;
  setProcessSharer((value, entry) => {
    const obj = value as object;
    let id = localIds.get(obj);
    const info = describeForChild(entry.tag, obj);
    const cap = requestBytesOf(entry.tag, obj) || undefined;
    if (id === undefined) {
      id = ++nextLocal;
      localIds.set(obj, id);
      objects.set(id, { id, obj, tag: entry.tag });
      noteCapacity(cap);
    }
    return { bridge, socket, id, tag: entry.tag, info, cap };
  });
}
