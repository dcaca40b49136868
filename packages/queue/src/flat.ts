/**
 * FLAT: the fast encoding of small structured items, `{ id, name }` or
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
 * SHAPED objects (record.ts) carry value{n} only, their keys being a shape
 * of the queue's shape table (shapes.ts).
 *
 * A {@link FlatWriter} encodes into its own growing buffer (its write
 * position and the shape it found are fields, not module state); a
 * {@link FlatReader} decodes from any bytes. Producers compare an object's
 * keys with the last object's (identical strings, by for-in: no key array is
 * made per item); readers of inline-key objects reuse the last key array when
 * the key bytes match.
 */
import { types } from 'node:util';
import type { Shapes } from './shapes.js';

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

const FLAT_MAX_ENTRIES = 32;
const FLAT_MAX_CHARS = 1024;
/** The longest SHAPED payload (its length has 16 bits in the record header). */
const MAX_SHAPED = 0xffff;

// Scratch for float conversions.
const f64 = new Float64Array(1);
const f64u = new Uint8Array(f64.buffer);

/** Encodes flat values into its buffer `out` (4-byte aligned: copied into a ring by words, via `out32`). */
export class FlatWriter {
  out = new Uint8Array(1024);
  out32 = new Int32Array(this.out.buffer);
  /** Write position in `out`. */
  pos = 0;
  /** Set by {@link encode}: the shape id of a SHAPED object, else -1. */
  shape = -1;

  // The keys of the last object encoded with its keys inline, and their key
  // block: the next such object of the same keys (identical, in order) copies
  // the block instead of checking and encoding each key again.
  private lastKeys: string[] = [];
  private lastKeyBytes = new Uint8Array(0);
  private lastKeyLen = 0;

  private ensure(extra: number): void {
    const pos = this.pos;
    if (pos + extra > this.out.length) {
      const bigger = new Uint8Array((Math.max(this.out.length * 2, pos + extra) + 3) & ~3);
      bigger.set(this.out.subarray(0, pos));
      this.out = bigger;
      this.out32 = new Int32Array(bigger.buffer);
    }
  }

  /** Append a string value or key; false if it is too long for FLAT. */
  putString(s: string): boolean {
    const n = s.length;
    if (n > FLAT_MAX_CHARS) return false;
    this.ensure(3 + 2 * n);
    const o = this.out;
    const wp = this.pos;
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
      this.pos = p + n;
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
    this.pos = q;
    return true;
  }

  private putValue(v: unknown): boolean {
    switch (typeof v) {
      case 'number': {
        this.ensure(9);
        const o = this.out;
        const wp = this.pos;
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          o[wp] = V_I32;
          o[wp + 1] = v;
          o[wp + 2] = v >> 8;
          o[wp + 3] = v >> 16;
          o[wp + 4] = v >> 24;
          this.pos = wp + 5;
        } else {
          o[wp] = V_F64;
          f64[0] = v;
          for (let i = 0; i < 8; i++) o[wp + 1 + i] = f64u[i];
          this.pos = wp + 9;
        }
        return true;
      }
      case 'string':
        return this.putString(v);
      case 'boolean':
        this.ensure(1);
        this.out[this.pos++] = v ? V_TRUE : V_FALSE;
        return true;
      case 'undefined':
        this.ensure(1);
        this.out[this.pos++] = V_UNDEF;
        return true;
      case 'object':
        if (v !== null) return false;
        this.ensure(1);
        this.out[this.pos++] = V_NULL;
        return true;
      default:
        return false; // functions, symbols (v8 reports them), bigints
    }
  }

  /** Start over at byte 0 with a two-byte FLAT head (F_OBJ / F_ARR, n). */
  private begin(kind: number, n: number): void {
    this.pos = 0;
    this.ensure(2);
    this.out[0] = kind;
    this.out[1] = n;
    this.pos = 2;
  }

  /**
   * Encode a flat object or array into `out`; its length, or 0 if it is not
   * FLAT. With `shapes`, an object whose keys are in the queue's shape table
   * (or get added now) is encoded as SHAPED: {@link shape} is its id, `out`
   * holds its values only.
   */
  encode(value: object, shapes: Shapes | null): number {
    this.shape = -1;
    if (Array.isArray(value)) {
      const n = value.length;
      if (n > FLAT_MAX_ENTRIES || types.isProxy(value)) return 0;
      // Exactly the keys 0..n-1: an array's integer keys come first, ascending,
      // so n keys ending with n-1 are those (a hole plus an extra property would
      // also make n keys, and structured clone keeps both).
      const keys = Object.keys(value);
      if (keys.length !== n || (n > 0 && keys[n - 1] !== String(n - 1))) return 0;
      this.begin(F_ARR, n);
      for (let i = 0; i < n; i++) if (!this.putValue(value[i])) return 0;
      return this.pos;
    }
    const proto = Object.getPrototypeOf(value);
    if ((proto !== Object.prototype && proto !== null) || types.isProxy(value)) return 0;
    // for-in lists the own enumerable keys in Object.keys order, then inherited
    // ones: none while Object.prototype has no enumerable property (checked).
    if (proto !== null) for (const _ in Object.prototype) return 0;
    // The keys, as the last object's if they are the same (identical strings, in order).
    const last = shapes !== null ? shapes.lastKeys : this.lastKeys;
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
        this.pos = 0;
        if (!this.putValues(value, keys, n) || this.pos > MAX_SHAPED) return 0;
        this.shape = id;
        return this.pos;
      }
    }
    this.begin(F_OBJ, n);
    if (keys === this.lastKeys) {
      // The key block of the last inline object: copy it (keys were checked then).
      const len = this.lastKeyLen;
      this.ensure(len);
      const o = this.out;
      const b = this.lastKeyBytes;
      for (let i = 0; i < len; i++) o[2 + i] = b[i];
      this.pos = 2 + len;
    } else {
      for (let i = 0; i < n; i++) if (!this.putString(keys[i])) return 0;
      this.lastKeyBytes = this.out.slice(2, this.pos);
      this.lastKeyLen = this.pos - 2;
      this.lastKeys = keys;
    }
    return this.putValues(value, keys, n) ? this.pos : 0;
  }

  /**
   * Append the values of `value`, whose keys are `keys` (n of them). False if a
   * value is not FLAT, or if a getter added or deleted keys meanwhile (for-in
   * again, in the same order): node:v8 then takes the object.
   */
  private putValues(value: object, keys: string[], n: number): boolean {
    let i = 0;
    for (const k in value) {
      if (k !== keys[i++] || !this.putValue((value as Record<string, unknown>)[k])) return false;
    }
    return i === n;
  }
}

const fromCharCode = String.fromCharCode;

/** A short ASCII string from bytes (faster than a native slice below ~32 chars). */
export function ascii(u: Uint8Array, p: number, n: number): string {
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

/** Decodes FLAT bytes; `pos` is its read position. */
export class FlatReader {
  /** Read position. */
  pos = 0;

  // The keys of the last inline object decoded and the bytes of their key
  // block: an object whose bytes start with the same block has the same keys
  // (keys are self-delimiting), so decoding `{ id, name }` over and over
  // allocates no key strings.
  private inKeys: string[] = [];
  private inKeyBytes = new Uint8Array(256);
  private inKeyLen = -1;

  /** A string value or key at `pos`; `pos` moves past it. */
  readString(u: Uint8Array): string {
    const rp = this.pos;
    const tag = u[rp];
    if (tag >= V_STRS) {
      const n = tag & 127;
      const p = rp + 1;
      this.pos = p + n;
      return ascii(u, p, n);
    }
    const n = u[rp + 1] | (u[rp + 2] << 8);
    const p = rp + 3;
    if (tag === V_STR8) {
      this.pos = p + n;
      return ascii(u, p, n);
    }
    let s = '';
    for (let i = 0; i < n; i++) s += fromCharCode(u[p + 2 * i] | (u[p + 2 * i + 1] << 8));
    this.pos = p + 2 * n;
    return s;
  }

  /** The `n` keys of the key block at `pos`; `pos` moves past it. */
  private readKeys(u: Uint8Array, n: number): string[] {
    const p = this.pos;
    const len = this.inKeyLen;
    if (n === this.inKeys.length && p + len <= u.length) {
      const b = this.inKeyBytes;
      let i = 0;
      while (i < len && u[p + i] === b[i]) i++;
      if (i === len) {
        this.pos = p + len;
        return this.inKeys;
      }
    }
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push(this.readString(u));
    const end = this.pos;
    if (this.inKeyBytes.length < end - p) this.inKeyBytes = new Uint8Array(end - p);
    this.inKeyBytes.set(u.subarray(p, end));
    this.inKeyLen = end - p;
    this.inKeys = keys;
    return keys;
  }

  private readValue(u: Uint8Array): unknown {
    const rp = this.pos;
    switch (u[rp]) {
      case V_UNDEF:
        this.pos = rp + 1;
        return undefined;
      case V_NULL:
        this.pos = rp + 1;
        return null;
      case V_FALSE:
        this.pos = rp + 1;
        return false;
      case V_TRUE:
        this.pos = rp + 1;
        return true;
      case V_I32:
        this.pos = rp + 5;
        return u[rp + 1] | (u[rp + 2] << 8) | (u[rp + 3] << 16) | (u[rp + 4] << 24);
      case V_F64:
        for (let i = 0; i < 8; i++) f64u[i] = u[rp + 1 + i];
        this.pos = rp + 9;
        return f64[0];
      default:
        return this.readString(u);
    }
  }

  /** The FLAT value (object or array) whose bytes start at `p`. */
  decode(u: Uint8Array, p: number): unknown {
    const n = u[p + 1];
    this.pos = p + 2;
    if (u[p] === F_ARR) {
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) a.push(this.readValue(u));
      return a;
    }
    return this.readObject(u, this.readKeys(u, n), this.pos);
  }

  /** An object of `keys`, its values read from byte `p` on (a SHAPED payload, or after a FLAT key block). */
  readObject(u: Uint8Array, keys: string[], p: number): Record<string, unknown> {
    this.pos = p;
    const o: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) o[keys[i]] = this.readValue(u);
    return o;
  }
}
