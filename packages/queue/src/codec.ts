/**
 * How an item becomes a record in the queue's byte ring, and back.
 *
 * A record starts on a 4-byte boundary with one Int32 header word; its low 4
 * bits are the kind. The ring's capacity is a multiple of 4, so a header (or
 * any payload word) never straddles the ring's end; a byte payload may, and
 * is then written and read in two pieces (the end of the ring, then its start).
 *
 *   kind         header                 payload                    for
 *   SMI          value << 4             none                       integers in [-2^27, 2^27)
 *   UNDEFINED..  kind                   none                       undefined, null, false, true
 *   INT32        kind                   1 word                     other int32
 *   FLOAT64      kind                   2 words                    other numbers, -0, NaN
 *   ASCII        len << 4 | kind        len bytes                  strings of chars < 128
 *   UTF16        len << 4 | kind        len bytes (2 per unit)     other strings, lone surrogates kept
 *   FLAT         len << 4 | kind        len bytes, see below       flat plain objects / arrays of primitives
 *   V8           len << 4 | kind        node:v8 serialize bytes    everything else
 *   SHAPED       len << 16 | id << 4    len bytes: value{n}        flat objects whose keys are shape `id`
 *                | kind
 *
 * A record takes 4 + len rounded up to 4 bytes; len < 2^28 (SHAPED: < 2^16).
 *
 * FLAT is the fast path for small structured items such as `{ id, name }` or
 * `[i, 'x']`: node:v8's serializer costs ~8 us per such object round trip,
 * this ~0.2 us. It covers exactly the values where it cannot differ from a
 * structured clone: a plain object (prototype Object.prototype or null, no
 * `__proto__` key, not a Proxy) or an array without holes or extra properties,
 * of at most 32 entries, whose values are all primitives other than symbols
 * and bigints, strings of at most 1024 chars. Anything else goes to node:v8
 * (nested objects share references and may be cyclic: v8 keeps that).
 *
 *   FLAT bytes:  OBJ n key{n} value{n}  |  ARR n value{n}
 *   value:       UNDEF | NULL | FALSE | TRUE | I32 b0 b1 b2 b3 | F64 8 bytes
 *                | STRS|len bytes (ASCII, len < 128: one byte for tag and length)
 *                | STR8 len16 bytes | STR16 len16 units (2 bytes, little-endian)
 *   key:         STRS, STR8 or STR16
 *
 * SHAPED: a flat object's keys (Object.keys order) are a "shape", kept once
 * in the queue's shape table in shared memory (see {@link Shapes}); its record
 * carries the shape's id and the values only: `{ id, name }` takes 16 bytes
 * instead of 32, and no key is encoded or decoded per item. Every thread of
 * every producer and consumer reads the same table, so any consumer can
 * decode any record. When the table is full (4 KiB), or without one, a flat
 * object goes as FLAT with its keys inline.
 *
 * Producers compare an object's keys with the last object's (identical
 * strings, by for-in: no key array is made per item); consumers of FLAT
 * objects reuse the last key array when the key bytes match.
 */
import v8 from 'node:v8';
import { types } from 'node:util';
import {
  DataCloneError,
  isThreadGone,
  primitiveItemMessage,
  threadLivenessId,
  uncloneableItemMessage,
} from '@conc/core';

export const K_SMI = 0;
export const K_UNDEFINED = 1;
export const K_NULL = 2;
export const K_FALSE = 3;
export const K_TRUE = 4;
export const K_INT32 = 5;
export const K_FLOAT64 = 6;
export const K_ASCII = 7;
export const K_UTF16 = 8;
export const K_FLAT = 9;
export const K_V8 = 10;
export const K_SHAPED = 11;

/** The largest payload a header can describe. */
export const MAX_PAYLOAD = 2 ** 28 - 1;

/** The views of a queue's ring (bytes after the header words). */
export interface Ring {
  i32: Int32Array;
  u8: Uint8Array;
  /** A Node Buffer over the same bytes (typed by what is used, so the public .d.ts needs no @types/node). */
  buf: RingBytes;
  /** bytes, a multiple of 4 */
  cap: number;
  /** the queue's shape table, as this thread knows it */
  shapes: Shapes;
}

/** The methods of Node's Buffer the codec uses on a ring. */
export interface RingBytes extends Uint8Array {
  write(s: string, offset: number, length: number, encoding: 'latin1' | 'utf16le'): number;
  toString(encoding?: 'latin1' | 'utf16le', start?: number, end?: number): string;
}

/** An encoded item, ready to be written into a ring. */
export interface Rec {
  kind: number;
  header: number;
  w1: number;
  w2: number;
  str: string;
  bytes: Uint8Array | null;
  /** payload bytes (ASCII / UTF16 / FLAT / V8) */
  payload: number;
  /** bytes the record takes in the ring */
  size: number;
}

function newRec(): Rec {
  return { kind: 0, header: 0, w1: 0, w2: 0, str: '', bytes: null, payload: 0, size: 4 };
}

/**
 * The record every put encodes into first. A put that has to wait takes a
 * {@link snapshot} (other puts of the same thread may reuse this one meanwhile).
 */
export const scratchRec: Rec = newRec();

// Scratch memory for FLAT encoding, float conversions and split FLAT records.
let flatOut = new Uint8Array(1024); // 4-byte aligned: copied into the ring by words
let flatOut32 = new Int32Array(flatOut.buffer);
let flatIn = new Uint8Array(1024);
const f64 = new Float64Array(1);
const f64i = new Int32Array(f64.buffer);
const f64u = new Uint8Array(f64.buffer);

/** A copy of `rec` that owns its bytes. */
export function snapshot(rec: Rec): Rec {
  const copy = { ...rec };
  if (rec.bytes === flatOut) copy.bytes = flatOut.slice(0, rec.payload);
  return copy;
}

const SMI_MIN = -(2 ** 27);
const SMI_MAX = 2 ** 27;
const SHORT = 32;
const FLAT_MAX_ENTRIES = 32;
const FLAT_MAX_CHARS = 1024;
/** Bytes of a queue's shape table. */
export const SHAPE_TABLE_BYTES = 4096;
const SHAPE_ID_MASK = 0xfff;
const MAX_SHAPED = 0xffff;

// Set by encodeFlat: the shape id of a SHAPED object, else -1.
let flatShape = -1;

function payloadRec(rec: Rec, kind: number, payload: number): void {
  rec.kind = kind;
  rec.payload = payload;
  rec.header = (payload << 4) | kind | 0;
  rec.size = 4 + ((payload + 3) & ~3);
}

function isAscii(s: string): boolean {
  const n = s.length;
  if (n <= SHORT) {
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 127) return false;
    return true;
  }
  return Buffer.byteLength(s, 'utf8') === n;
}

/**
 * Encode `value` into `rec`. Throws {@link DataCloneError} (naming the part
 * that cannot be cloned) for functions, symbols and other uncloneable values.
 */
export function encodeItem(value: unknown, rec: Rec, who: string, shapes: Shapes | null): Rec {
  rec.bytes = null;
  rec.str = '';
  switch (typeof value) {
    case 'number':
      if ((value | 0) === value && (value !== 0 || 1 / value > 0)) {
        if (value >= SMI_MIN && value < SMI_MAX) {
          rec.kind = K_SMI;
          rec.header = (value << 4) | K_SMI;
          rec.size = 4;
        } else {
          rec.kind = K_INT32;
          rec.header = K_INT32;
          rec.w1 = value;
          rec.size = 8;
        }
      } else {
        rec.kind = K_FLOAT64;
        rec.header = K_FLOAT64;
        f64[0] = value;
        rec.w1 = f64i[0];
        rec.w2 = f64i[1];
        rec.size = 12;
      }
      return rec;
    case 'string':
      rec.str = value;
      if (isAscii(value)) payloadRec(rec, K_ASCII, value.length);
      else payloadRec(rec, K_UTF16, 2 * value.length);
      return rec;
    case 'boolean':
      rec.kind = rec.header = value ? K_TRUE : K_FALSE;
      rec.size = 4;
      return rec;
    case 'undefined':
      rec.kind = rec.header = K_UNDEFINED;
      rec.size = 4;
      return rec;
    case 'object':
      if (value === null) {
        rec.kind = rec.header = K_NULL;
        rec.size = 4;
        return rec;
      }
      {
        const n = encodeFlat(value, shapes);
        if (n > 0) {
          rec.bytes = flatOut;
          if (flatShape < 0) {
            payloadRec(rec, K_FLAT, n);
          } else {
            rec.kind = K_SHAPED;
            rec.payload = n;
            rec.header = (n << 16) | (flatShape << 4) | K_SHAPED;
            rec.size = 4 + ((n + 3) & ~3);
          }
          return rec;
        }
      }
      break;
    case 'function':
    case 'symbol':
      throw uncloneable(value, who);
    default:
      break; // bigint
  }
  // A conc primitive (Lock, Queue, ...) would serialize as an empty object:
  // its state is shared memory, which only Thread / Process args can carry.
  const primitive = primitiveItemMessage(value, who);
  if (primitive) throw new DataCloneError(primitive);
  let bytes: Buffer;
  try {
    bytes = v8.serialize(value);
  } catch (error) {
    throw uncloneable(value, who, error as Error);
  }
  rec.bytes = bytes;
  payloadRec(rec, K_V8, bytes.length);
  return rec;
}

// ---- FLAT encoding ----------------------------------------------------------

const F_OBJ = 1;
const F_ARR = 2;
const V_UNDEF = 0;
const V_NULL = 1;
const V_FALSE = 2;
const V_TRUE = 3;
const V_I32 = 4;
const V_F64 = 5;
const V_STR8 = 6;
const V_STR16 = 7;
const V_STRS = 0x80; // | len: an ASCII string of fewer than 128 chars

let wp = 0; // write position in flatOut

// The keys of the last object encoded as FLAT (keys inline) and their key
// block: the next such object of the same keys (identical, in order) copies
// the block instead of checking and encoding each key again.
let lastKeys: string[] = [];
let lastKeyBytes = new Uint8Array(0);
let lastKeyLen = 0;

function ensure(extra: number): void {
  if (wp + extra > flatOut.length) {
    const bigger = new Uint8Array((Math.max(flatOut.length * 2, wp + extra) + 3) & ~3);
    bigger.set(flatOut.subarray(0, wp));
    flatOut = bigger;
    flatOut32 = new Int32Array(bigger.buffer);
  }
}

function putString(s: string): boolean {
  const n = s.length;
  if (n > FLAT_MAX_CHARS) return false;
  ensure(3 + 2 * n);
  const o = flatOut;
  const short = n < 128;
  const p = short ? wp + 1 : wp + 3;
  // One pass for ASCII (the common case); on the first wider char, start over.
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) break;
    o[p + i] = c;
  }
  if (i === n) {
    if (short) {
      o[wp] = V_STRS | n;
    } else {
      o[wp] = V_STR8;
      o[wp + 1] = n & 255;
      o[wp + 2] = n >> 8;
    }
    wp = p + n;
    return true;
  }
  o[wp] = V_STR16;
  o[wp + 1] = n & 255;
  o[wp + 2] = n >> 8;
  let q = wp + 3;
  for (i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    o[q++] = c & 255;
    o[q++] = c >> 8;
  }
  wp = q;
  return true;
}

function putValue(v: unknown): boolean {
  switch (typeof v) {
    case 'number': {
      ensure(9);
      const o = flatOut;
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        o[wp] = V_I32;
        o[wp + 1] = v;
        o[wp + 2] = v >> 8;
        o[wp + 3] = v >> 16;
        o[wp + 4] = v >> 24;
        wp += 5;
      } else {
        o[wp] = V_F64;
        f64[0] = v;
        for (let i = 0; i < 8; i++) o[wp + 1 + i] = f64u[i];
        wp += 9;
      }
      return true;
    }
    case 'string':
      return putString(v);
    case 'boolean':
      ensure(1);
      flatOut[wp++] = v ? V_TRUE : V_FALSE;
      return true;
    case 'undefined':
      ensure(1);
      flatOut[wp++] = V_UNDEF;
      return true;
    case 'object':
      if (v !== null) return false;
      ensure(1);
      flatOut[wp++] = V_NULL;
      return true;
    default:
      return false; // functions, symbols (v8 reports them), bigints
  }
}

/**
 * Encode a flat object or array into flatOut; its length, or 0 if it is not
 * FLAT. With `shapes`, an object whose keys are in the queue's shape table
 * (or get added now) is encoded as SHAPED: flatShape is its id, flatOut holds
 * its values only.
 */
function encodeFlat(value: object, shapes: Shapes | null): number {
  flatShape = -1;
  if (Array.isArray(value)) {
    const n = value.length;
    if (n > FLAT_MAX_ENTRIES || types.isProxy(value)) return 0;
    // Exactly the keys 0..n-1: an array's integer keys come first, ascending,
    // so n keys ending with n-1 are those (a hole plus an extra property would
    // also make n keys, and structured clone keeps both).
    const keys = Object.keys(value);
    if (keys.length !== n || (n > 0 && keys[n - 1] !== String(n - 1))) return 0;
    wp = 0;
    ensure(2);
    flatOut[0] = F_ARR;
    flatOut[1] = n;
    wp = 2;
    for (let i = 0; i < n; i++) if (!putValue(value[i])) return 0;
    return wp;
  }
  const proto = Object.getPrototypeOf(value);
  if ((proto !== Object.prototype && proto !== null) || types.isProxy(value)) return 0;
  // for-in lists the own enumerable keys in Object.keys order, then inherited
  // ones: none while Object.prototype has no enumerable property (checked).
  if (proto !== null) for (const _ in Object.prototype) return 0;
  // The keys, as the last object's if they are the same (identical strings, in order).
  const last = shapes !== null ? shapes.lastKeys : lastKeys;
  let n = 0;
  let same = true;
  for (const k in value) {
    if (n === FLAT_MAX_ENTRIES) return 0;
    if (same && k !== last[n]) same = false;
    n++;
  }
  let keys = last;
  if (!same || n !== last.length) {
    keys = [];
    for (const k in value) {
      if (k === '__proto__') return 0;
      keys.push(k);
    }
    if (keys.length !== n) return 0;
  }
  if (shapes !== null) {
    const id = keys === last ? shapes.lastId : shapes.idOf(keys);
    if (id >= 0) {
      shapes.lastKeys = keys;
      shapes.lastId = id;
      wp = 0;
      if (!putValues(value, keys, n) || wp > MAX_SHAPED) return 0;
      flatShape = id;
      return wp;
    }
  }
  wp = 0;
  ensure(2);
  flatOut[0] = F_OBJ;
  flatOut[1] = n;
  wp = 2;
  if (keys === lastKeys) {
    // The key block of the last inline object: copy it (keys were checked then).
    const len = lastKeyLen;
    ensure(len);
    const o = flatOut;
    const b = lastKeyBytes;
    for (let i = 0; i < len; i++) o[2 + i] = b[i];
    wp = 2 + len;
  } else {
    for (let i = 0; i < n; i++) if (!putString(keys[i])) return 0;
    lastKeyBytes = flatOut.slice(2, wp);
    lastKeyLen = wp - 2;
    lastKeys = keys;
  }
  return putValues(value, keys, n) ? wp : 0;
}

/**
 * Append the values of `value`, whose keys are `keys` (n of them). False if a
 * value is not FLAT, or if a getter added or deleted keys meanwhile (for-in
 * again, in the same order): node:v8 then takes the object.
 */
function putValues(value: object, keys: string[], n: number): boolean {
  let i = 0;
  for (const k in value) {
    if (k !== keys[i++] || !putValue((value as Record<string, unknown>)[k])) return false;
  }
  return i === n;
}

// ---- shape tables -----------------------------------------------------------

/** The shape lock's word while this thread holds it: its liveness id << 1 (never 0). */
const SHAPES_HELD = threadLivenessId() << 1;

/**
 * Take a shape table's lock: 0 free, else its holder's liveness id << 1.
 * Held for a few microseconds, so waiters poll (1 ms naps); one that sees
 * the same holder for 25 naps asks whether its thread is gone, and then
 * takes the lock over: the table needs no repair (an entry counts only once
 * the count that publishes it is stored; bytes past it are overwritten).
 */
function lockShapes(w: Int32Array, at: number): void {
  let seen = 0;
  let naps = 0;
  for (;;) {
    const v = Atomics.compareExchange(w, at, 0, SHAPES_HELD);
    if (v === 0) return;
    if (v !== seen) {
      seen = v;
      naps = 0;
    } else if (++naps >= 25) {
      naps = 0;
      if (isThreadGone(v >>> 1) && Atomics.compareExchange(w, at, v, SHAPES_HELD) === v) return;
    }
    Atomics.wait(w, at, v, 1);
  }
}

/**
 * A queue's shape table, as one thread knows it. In shared memory: `table`
 * (SHAPE_TABLE_BYTES), and three words at `at`: a lock (see lockShapes), the
 * count of shapes and the bytes they take. Entries are appended under the lock and never
 * change: len16 n key{n} (keys as in FLAT), id = position in the table. The
 * count is stored last (seq-cst): whoever read a count can read the entries
 * below it, and a consumer reads a SHAPED record only after the PUT_COUNT
 * load that published it, which comes after its producer read the count.
 * Each thread parses entries once and keeps their keys by id and by name.
 */
export class Shapes {
  /** The keys of the last object this thread encoded as SHAPED, and their id. */
  lastKeys: string[] = [];
  lastId = -1;
  private readonly ids: string[][] = [];
  private readonly byName = new Map<string, number>();
  private parsed = 0; // bytes of the table parsed into ids
  private full = false;

  constructor(
    private readonly w: Int32Array,
    private readonly at: number,
    private readonly table: Uint8Array,
  ) {}

  /** The keys of shape `id` (a record's: its entry is in the table). */
  keysOf(id: number): string[] {
    if (id >= this.ids.length) this.sync(Atomics.load(this.w, this.at + 1));
    const keys = this.ids[id];
    if (keys === undefined) throw new Error(`conc queue: unknown shape ${id}`);
    return keys;
  }

  /** The id of the shape `keys` (Object.keys order), added if new; -1 if the table is full. */
  idOf(keys: string[]): number {
    const name = JSON.stringify(keys);
    let id = this.byName.get(name);
    if (id !== undefined) return id;
    if (this.full) {
      // Another thread may have added it before the table filled up.
      this.sync(Atomics.load(this.w, this.at + 1));
      return this.byName.get(name) ?? -1;
    }
    wp = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] === '__proto__' || !putString(keys[i])) return -1;
    const len = wp;
    const w = this.w;
    const at = this.at;
    lockShapes(w, at);
    try {
      this.sync(Atomics.load(w, at + 1));
      id = this.byName.get(name);
      if (id !== undefined) return id;
      const count = this.ids.length;
      const used = this.parsed;
      if (count > SHAPE_ID_MASK || used + 3 + len > this.table.length) {
        this.full = true;
        return -1;
      }
      const t = this.table;
      t[used] = len & 255;
      t[used + 1] = len >> 8;
      t[used + 2] = keys.length;
      t.set(flatOut.subarray(0, len), used + 3);
      Atomics.store(w, at + 2, used + 3 + len);
      Atomics.store(w, at + 1, count + 1); // publishes the entry
      this.sync(count + 1);
      return count;
    } finally {
      Atomics.store(w, at, 0);
      Atomics.notify(w, at);
    }
  }

  /** Parse the entries up to `count`. */
  private sync(count: number): void {
    const t = this.table;
    while (this.ids.length < count) {
      const p = this.parsed;
      const len = t[p] | (t[p + 1] << 8);
      const n = t[p + 2];
      const saved = rp;
      rp = p + 3;
      const keys: string[] = [];
      for (let i = 0; i < n; i++) keys.push(readString(t));
      rp = saved;
      this.parsed = p + 3 + len;
      this.byName.set(JSON.stringify(keys), this.ids.length);
      this.ids.push(keys);
    }
  }
}

// ---- writing a record into the ring -----------------------------------------

/** Write `rec` at byte offset `off` (a multiple of 4 below r.cap); the caller checked the room. */
export function writeRecord(r: Ring, off: number, rec: Rec): void {
  const i32 = r.i32;
  const cap = r.cap;
  i32[off >> 2] = rec.header;
  const kind = rec.kind;
  if (kind <= K_TRUE) return;
  let p = off + 4;
  if (p === cap) p = 0;
  if (kind === K_INT32) {
    i32[p >> 2] = rec.w1;
  } else if (kind === K_FLOAT64) {
    i32[p >> 2] = rec.w1;
    p += 4;
    if (p === cap) p = 0;
    i32[p >> 2] = rec.w2;
  } else if (kind === K_ASCII) {
    writeAscii(r, p, rec.str);
  } else if (kind === K_UTF16) {
    writeUtf16(r, p, rec.str);
  } else if (rec.bytes === flatOut) {
    writeWords(r, p, flatOut32, rec.payload);
  } else {
    writeBytes(r, p, rec.bytes!, rec.payload);
  }
}

/** Copy the first `n` bytes of `src` word by word (FLAT records: small, aligned). */
function writeWords(r: Ring, p: number, src: Int32Array, n: number): void {
  const i32 = r.i32;
  const end = r.cap >> 2;
  let q = p >> 2;
  const words = (n + 3) >> 2;
  for (let k = 0; k < words; k++) {
    i32[q] = src[k];
    if (++q === end) q = 0;
  }
}

function writeAscii(r: Ring, p: number, s: string): void {
  const n = s.length;
  const cap = r.cap;
  if (n <= SHORT) {
    const u8 = r.u8;
    for (let i = 0; i < n; i++) {
      u8[p] = s.charCodeAt(i);
      if (++p === cap) p = 0;
    }
    return;
  }
  const first = Math.min(n, cap - p);
  r.buf.write(s, p, first, 'latin1');
  if (first < n) r.buf.write(s.slice(first), 0, n - first, 'latin1');
}

function writeUtf16(r: Ring, p: number, s: string): void {
  const n = s.length;
  const cap = r.cap;
  if (n <= SHORT) {
    const u8 = r.u8;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      u8[p] = c & 255;
      u8[p + 1] = c >> 8; // p is even and cap a multiple of 4: p + 1 < cap
      p += 2;
      if (p === cap) p = 0;
    }
    return;
  }
  const bytes = 2 * n;
  const first = Math.min(bytes, cap - p); // even
  r.buf.write(s, p, first, 'utf16le');
  if (first < bytes) r.buf.write(s.slice(first >> 1), 0, bytes - first, 'utf16le');
}

function writeBytes(r: Ring, p: number, src: Uint8Array, n: number): void {
  const u8 = r.u8;
  const first = Math.min(n, r.cap - p);
  u8.set(first === src.length ? src : src.subarray(0, first), p);
  if (first < n) u8.set(src.subarray(first, n), 0);
}

// ---- reading a record from the ring -----------------------------------------

/** What {@link readRecord} returns for a V8 record: call {@link takeV8} after unlocking. */
export const V8_PENDING: unique symbol = Symbol('conc.queue.v8');

/** Set by {@link readRecord}: the record's size in the ring, and a V8 payload copy. */
export const readOut: { size: number; bytes: Uint8Array | null } = { size: 4, bytes: null };

/** Deserialize the V8 payload copied by the last {@link readRecord}. */
export function takeV8(): unknown {
  const bytes = readOut.bytes!;
  readOut.bytes = null;
  return v8.deserialize(bytes);
}

/** Read the record at byte offset `off`; its size goes to readOut.size. */
export function readRecord(r: Ring, off: number): unknown {
  const i32 = r.i32;
  const cap = r.cap;
  const h = i32[off >> 2];
  const kind = h & 15;
  if (kind === K_SMI) {
    readOut.size = 4;
    return h >> 4;
  }
  if (kind <= K_TRUE) {
    readOut.size = 4;
    return kind === K_UNDEFINED ? undefined : kind === K_NULL ? null : kind === K_TRUE;
  }
  let p = off + 4;
  if (p === cap) p = 0;
  if (kind === K_INT32) {
    readOut.size = 8;
    return i32[p >> 2];
  }
  if (kind === K_FLOAT64) {
    readOut.size = 12;
    f64i[0] = i32[p >> 2];
    p += 4;
    if (p === cap) p = 0;
    f64i[1] = i32[p >> 2];
    return f64[0];
  }
  if (kind === K_SHAPED) {
    const n = h >>> 16;
    readOut.size = 4 + ((n + 3) & ~3);
    const keys = r.shapes.keysOf((h >>> 4) & SHAPE_ID_MASK);
    if (n <= cap - p) {
      rp = p;
      return readObject(r.u8, keys);
    }
    if (flatIn.length < n) flatIn = new Uint8Array(Math.max(n, 2 * flatIn.length));
    copyOut(r, p, n, flatIn);
    rp = 0;
    return readObject(flatIn, keys);
  }
  const n = h >>> 4;
  readOut.size = 4 + ((n + 3) & ~3);
  const first = Math.min(n, cap - p);
  switch (kind) {
    case K_ASCII:
      if (n <= SHORT) {
        return first === n ? ascii(r.u8, p, n) : ascii(r.u8, p, first) + ascii(r.u8, 0, n - first);
      }
      return first === n
        ? r.buf.toString('latin1', p, p + n)
        : r.buf.toString('latin1', p, cap) + r.buf.toString('latin1', 0, n - first);
    case K_UTF16:
      return first === n
        ? r.buf.toString('utf16le', p, p + n)
        : r.buf.toString('utf16le', p, cap) + r.buf.toString('utf16le', 0, n - first);
    case K_FLAT:
      if (first === n) return decodeFlat(r.u8, p);
      if (flatIn.length < n) flatIn = new Uint8Array(Math.max(n, 2 * flatIn.length));
      copyOut(r, p, n, flatIn);
      return decodeFlat(flatIn, 0);
    case K_V8: {
      // Copy out: node:v8 makes typed arrays that view its input buffer.
      const bytes = new Uint8Array(n);
      copyOut(r, p, n, bytes);
      readOut.bytes = bytes;
      return V8_PENDING;
    }
    default:
      throw new Error(`conc queue: corrupt record kind ${kind} at ${off}`);
  }
}

function copyOut(r: Ring, p: number, n: number, into: Uint8Array): void {
  const first = Math.min(n, r.cap - p);
  into.set(r.u8.subarray(p, p + first), 0);
  if (first < n) into.set(r.u8.subarray(0, n - first), first);
}

const fromCharCode = String.fromCharCode;

/** A short ASCII string from bytes (faster than a native slice below ~32 chars). */
function ascii(u: Uint8Array, p: number, n: number): string {
  let s = '';
  while (n > 8) {
    s += fromCharCode(u[p], u[p + 1], u[p + 2], u[p + 3], u[p + 4], u[p + 5], u[p + 6], u[p + 7]);
    p += 8;
    n -= 8;
  }
  switch (n) {
    case 0:
      return s;
    case 1:
      return s + fromCharCode(u[p]);
    case 2:
      return s + fromCharCode(u[p], u[p + 1]);
    case 3:
      return s + fromCharCode(u[p], u[p + 1], u[p + 2]);
    case 4:
      return s + fromCharCode(u[p], u[p + 1], u[p + 2], u[p + 3]);
    case 5:
      return s + fromCharCode(u[p], u[p + 1], u[p + 2], u[p + 3], u[p + 4]);
    case 6:
      return s + fromCharCode(u[p], u[p + 1], u[p + 2], u[p + 3], u[p + 4], u[p + 5]);
    case 7:
      return s + fromCharCode(u[p], u[p + 1], u[p + 2], u[p + 3], u[p + 4], u[p + 5], u[p + 6]);
    default:
      return s + fromCharCode(u[p], u[p + 1], u[p + 2], u[p + 3], u[p + 4], u[p + 5], u[p + 6], u[p + 7]);
  }
}

// ---- FLAT decoding ----------------------------------------------------------

let rp = 0; // read position

// The keys of the last inline object decoded and the bytes of their key
// block: an object whose bytes start with the same block has the same keys
// (keys are self-delimiting), so decoding `{ id, name }` over and over
// allocates no key strings.
let inKeys: string[] = [];
let inKeyBytes = new Uint8Array(256);
let inKeyLen = -1;

function readString(u: Uint8Array): string {
  const tag = u[rp];
  if (tag >= V_STRS) {
    const n = tag & 127;
    const p = rp + 1;
    rp = p + n;
    return ascii(u, p, n);
  }
  const n = u[rp + 1] | (u[rp + 2] << 8);
  const p = rp + 3;
  if (tag === V_STR8) {
    rp = p + n;
    return ascii(u, p, n);
  }
  let s = '';
  for (let i = 0; i < n; i++) s += fromCharCode(u[p + 2 * i] | (u[p + 2 * i + 1] << 8));
  rp = p + 2 * n;
  return s;
}

/** The `n` keys of the key block at rp; rp moves past it. */
function readKeys(u: Uint8Array, n: number): string[] {
  const p = rp;
  const len = inKeyLen;
  if (n === inKeys.length && p + len <= u.length) {
    const b = inKeyBytes;
    let i = 0;
    while (i < len && u[p + i] === b[i]) i++;
    if (i === len) {
      rp = p + len;
      return inKeys;
    }
  }
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(readString(u));
  const end = rp;
  if (inKeyBytes.length < end - p) inKeyBytes = new Uint8Array(end - p);
  inKeyBytes.set(u.subarray(p, end));
  inKeyLen = end - p;
  inKeys = keys;
  return keys;
}

function readValue(u: Uint8Array): unknown {
  const tag = u[rp];
  switch (tag) {
    case V_UNDEF:
      rp += 1;
      return undefined;
    case V_NULL:
      rp += 1;
      return null;
    case V_FALSE:
      rp += 1;
      return false;
    case V_TRUE:
      rp += 1;
      return true;
    case V_I32: {
      const p = rp;
      rp += 5;
      return u[p + 1] | (u[p + 2] << 8) | (u[p + 3] << 16) | (u[p + 4] << 24);
    }
    case V_F64:
      for (let i = 0; i < 8; i++) f64u[i] = u[rp + 1 + i];
      rp += 9;
      return f64[0];
    default:
      return readString(u);
  }
}

function decodeFlat(u: Uint8Array, p: number): unknown {
  const n = u[p + 1];
  rp = p + 2;
  if (u[p] === F_ARR) {
    const a: unknown[] = [];
    for (let i = 0; i < n; i++) a.push(readValue(u));
    return a;
  }
  return readObject(u, readKeys(u, n));
}

/** An object of `keys`, its values read from rp on. */
function readObject(u: Uint8Array, keys: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) o[keys[i]] = readValue(u);
  return o;
}

// ---- errors -----------------------------------------------------------------

// The wording is @conc/core's (items.ts), shared with @conc/process, which
// checks a child's items with it before sending them.
function uncloneable(value: unknown, who: string, cause?: Error): DataCloneError {
  return new DataCloneError(uncloneableItemMessage(value, who, cause));
}
