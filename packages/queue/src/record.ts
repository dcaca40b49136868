/**
 * The record ring: how an item becomes a record in the queue's byte ring,
 * and back.
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
 *   FLAT         len << 4 | kind        len bytes (flat.ts)        flat plain objects / arrays of primitives
 *   V8           len << 4 | kind        node:v8 serialize bytes    everything else
 *   SHAPED       len << 16 | id << 4    len bytes: value{n}        flat objects whose keys are shape `id`
 *                | kind                                            (shapes.ts)
 *
 * A record takes 4 + len rounded up to 4 bytes; len < 2^28 (SHAPED: < 2^16).
 *
 * A put encodes its item into an {@link EncodedItem} (before taking any
 * lock), then writes it with {@link writeRecord}; a get reads a record with
 * {@link RecordReader}, whose fields say what the last read found (its size,
 * a V8 payload to deserialize once the lock is released).
 */
import v8 from 'node:v8';
import { itemCloneError, itemRefusal } from '@conc/core';
import { FlatReader, FlatWriter, ascii } from './flat.js';
import { SHAPE_ID_MASK, type Shapes } from './shapes.js';

const K_SMI = 0;
const K_UNDEFINED = 1;
const K_NULL = 2;
const K_FALSE = 3;
const K_TRUE = 4;
const K_INT32 = 5;
const K_FLOAT64 = 6;
const K_ASCII = 7;
const K_UTF16 = 8;
const K_FLAT = 9;
const K_V8 = 10;
const K_SHAPED = 11;

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

/** The methods of Node's Buffer the record reader and writer use on a ring. */
export interface RingBytes extends Uint8Array {
  write(s: string, offset: number, length: number, encoding: 'latin1' | 'utf16le'): number;
  toString(encoding?: 'latin1' | 'utf16le', start?: number, end?: number): string;
}

/** An item encoded by {@link encodeItem}, ready to be written into a ring as one record. */
export interface EncodedItem {
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

/** This thread's FLAT encoder: an item's FLAT bytes stay in its buffer until written (or snapshotted). */
const flat = new FlatWriter();

/**
 * The item every put encodes into first. A put that has to wait takes a
 * {@link snapshot} (other puts of the same thread may reuse this one meanwhile).
 */
export const scratchItem: EncodedItem = {
  kind: 0,
  header: 0,
  w1: 0,
  w2: 0,
  str: '',
  bytes: null,
  payload: 0,
  size: 4,
};

const f64 = new Float64Array(1);
const f64i = new Int32Array(f64.buffer);

/** A copy of `item` that owns its bytes. */
export function snapshot(item: EncodedItem): EncodedItem {
  const copy = { ...item };
  if (item.bytes === flat.out) copy.bytes = flat.out.slice(0, item.payload);
  return copy;
}

const SMI_MIN = -(2 ** 27);
const SMI_MAX = 2 ** 27;
const SHORT = 32;

function payloadItem(item: EncodedItem, kind: number, payload: number): void {
  item.kind = kind;
  item.payload = payload;
  item.header = (payload << 4) | kind | 0;
  item.size = 4 + ((payload + 3) & ~3);
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
 * Encode `value` into `item`. Throws DataCloneError (naming the part that
 * cannot be cloned) for functions, symbols and other uncloneable values
 * (core's clone.ts).
 */
export function encodeItem(value: unknown, item: EncodedItem, who: string, shapes: Shapes | null): EncodedItem {
  item.bytes = null;
  item.str = '';
  switch (typeof value) {
    case 'number':
      if ((value | 0) === value && (value !== 0 || 1 / value > 0)) {
        if (value >= SMI_MIN && value < SMI_MAX) {
          item.kind = K_SMI;
          item.header = (value << 4) | K_SMI;
          item.size = 4;
        } else {
          item.kind = K_INT32;
          item.header = K_INT32;
          item.w1 = value;
          item.size = 8;
        }
      } else {
        item.kind = K_FLOAT64;
        item.header = K_FLOAT64;
        f64[0] = value;
        item.w1 = f64i[0];
        item.w2 = f64i[1];
        item.size = 12;
      }
      return item;
    case 'string':
      item.str = value;
      if (isAscii(value)) payloadItem(item, K_ASCII, value.length);
      else payloadItem(item, K_UTF16, 2 * value.length);
      return item;
    case 'boolean':
      item.kind = item.header = value ? K_TRUE : K_FALSE;
      item.size = 4;
      return item;
    case 'undefined':
      item.kind = item.header = K_UNDEFINED;
      item.size = 4;
      return item;
    case 'object':
      if (value === null) {
        item.kind = item.header = K_NULL;
        item.size = 4;
        return item;
      }
      {
        const n = flat.encode(value, shapes);
        if (n > 0) {
          item.bytes = flat.out;
          if (flat.shape < 0) {
            payloadItem(item, K_FLAT, n);
          } else {
            item.kind = K_SHAPED;
            item.payload = n;
            item.header = (n << 16) | (flat.shape << 4) | K_SHAPED;
            item.size = 4 + ((n + 3) & ~3);
          }
          return item;
        }
      }
      break;
    case 'function':
    case 'symbol':
      throw itemCloneError(value, who);
    default:
      break; // bigint
  }
  // A conc primitive (Lock, Queue, ...) would serialize as an empty object:
  // its state is shared memory, which only Thread / Process args can carry.
  const refusal = itemRefusal(value, who);
  if (refusal) throw refusal;
  let bytes: Buffer;
  try {
    bytes = v8.serialize(value);
  } catch (error) {
    throw itemCloneError(value, who, error as Error);
  }
  item.bytes = bytes;
  payloadItem(item, K_V8, bytes.length);
  return item;
}

// ---- writing a record into the ring -----------------------------------------

/** Write `item` at byte offset `off` (a multiple of 4 below r.cap); the caller checked the room. */
export function writeRecord(r: Ring, off: number, item: EncodedItem): void {
  const i32 = r.i32;
  const cap = r.cap;
  i32[off >> 2] = item.header;
  const kind = item.kind;
  if (kind <= K_TRUE) return;
  let p = off + 4;
  if (p === cap) p = 0;
  if (kind === K_INT32) {
    i32[p >> 2] = item.w1;
  } else if (kind === K_FLOAT64) {
    i32[p >> 2] = item.w1;
    p += 4;
    if (p === cap) p = 0;
    i32[p >> 2] = item.w2;
  } else if (kind === K_ASCII) {
    writeAscii(r, p, item.str);
  } else if (kind === K_UTF16) {
    writeUtf16(r, p, item.str);
  } else if (item.bytes === flat.out) {
    writeWords(r, p, flat.out32, item.payload);
  } else {
    writeBytes(r, p, item.bytes!, item.payload);
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

/** What {@link RecordReader.read} returns for a V8 record: call {@link RecordReader.takeV8} after unlocking. */
export const V8_PENDING: unique symbol = Symbol('conc.queue.v8');

function copyOut(r: Ring, p: number, n: number, into: Uint8Array): void {
  const first = Math.min(n, r.cap - p);
  into.set(r.u8.subarray(p, p + first), 0);
  if (first < n) into.set(r.u8.subarray(0, n - first), first);
}

/** Reads records; its fields describe the last one read. */
export class RecordReader {
  /** The last record's size in the ring (bytes). */
  size = 4;
  /** The last V8 record's payload, copied out until {@link takeV8}. */
  private bytes: Uint8Array | null = null;
  private readonly flat = new FlatReader();
  /** Scratch for a FLAT or SHAPED payload split by the ring's end. */
  private joined = new Uint8Array(1024);

  /** Deserialize the V8 payload copied by the last {@link read}. */
  takeV8(): unknown {
    const bytes = this.bytes!;
    this.bytes = null;
    return v8.deserialize(bytes);
  }

  /** The payload `n` bytes at `p`, in one piece: `joined` filled if it wraps. */
  private whole(r: Ring, p: number, n: number): Uint8Array {
    if (this.joined.length < n) this.joined = new Uint8Array(Math.max(n, 2 * this.joined.length));
    copyOut(r, p, n, this.joined);
    return this.joined;
  }

  /** Read the record at byte offset `off`; its size goes to {@link size}. */
  read(r: Ring, off: number): unknown {
    const i32 = r.i32;
    const cap = r.cap;
    const h = i32[off >> 2];
    const kind = h & 15;
    if (kind === K_SMI) {
      this.size = 4;
      return h >> 4;
    }
    if (kind <= K_TRUE) {
      this.size = 4;
      return kind === K_UNDEFINED ? undefined : kind === K_NULL ? null : kind === K_TRUE;
    }
    let p = off + 4;
    if (p === cap) p = 0;
    if (kind === K_INT32) {
      this.size = 8;
      return i32[p >> 2];
    }
    if (kind === K_FLOAT64) {
      this.size = 12;
      f64i[0] = i32[p >> 2];
      p += 4;
      if (p === cap) p = 0;
      f64i[1] = i32[p >> 2];
      return f64[0];
    }
    if (kind === K_SHAPED) {
      const n = h >>> 16;
      this.size = 4 + ((n + 3) & ~3);
      const keys = r.shapes.keysOf((h >>> 4) & SHAPE_ID_MASK);
      if (n <= cap - p) return this.flat.readObject(r.u8, keys, p);
      return this.flat.readObject(this.whole(r, p, n), keys, 0);
    }
    const n = h >>> 4;
    this.size = 4 + ((n + 3) & ~3);
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
        if (first === n) return this.flat.decode(r.u8, p);
        return this.flat.decode(this.whole(r, p, n), 0);
      case K_V8: {
        // Copy out: node:v8 makes typed arrays that view its input buffer.
        const bytes = new Uint8Array(n);
        copyOut(r, p, n, bytes);
        this.bytes = bytes;
        return V8_PENDING;
      }
      default:
        throw new Error(`conc queue: corrupt record kind ${kind} at ${off}`);
    }
  }
}
