/**
 * The shape table of a queue: the key lists of flat objects, kept once in
 * shared memory, so that a SHAPED record (record.ts) carries a shape id and
 * its values only: `{ id, name }` takes 16 bytes instead of 32, and no key is
 * encoded or decoded per item. Every thread of every producer and consumer
 * reads the same table, so any consumer can decode any record.
 *
 * In shared memory: the table (SHAPE_TABLE_BYTES, after the ring) and three
 * words at `at`: a lock, the count of shapes and the bytes they take.
 * Entries are appended under the lock and never change: len16 n key{n}
 * (keys as in FLAT, flat.ts), id = position in the table. The count is stored
 * last (seq-cst): whoever read a count can read the entries below it, and a
 * consumer reads a SHAPED record only after the PUT_COUNT load that published
 * it, which comes after its producer read the count. Each thread parses
 * entries once and keeps their keys by id and by name. When the table is full
 * (4 KiB), a flat object goes as FLAT with its keys inline.
 *
 * The lock is core's named futex (futex.ts): a waiter parks (it is held for a
 * few microseconds, while an entry is appended), and one whose holder died is
 * taken over; the table needs no repair (an entry counts only once the count
 * that publishes it is stored; bytes past it are overwritten).
 */
import { namedHolder, namedLockSync, namedTryLock, namedUnlock } from '@conc/core';
import { FlatReader, FlatWriter } from './flat.js';

/** Bytes of a queue's shape table. */
export const SHAPE_TABLE_BYTES = 4096;
/** Shape ids have 12 bits in a SHAPED record's header. */
export const SHAPE_ID_MASK = 0xfff;

/** This thread's word in a shape table lock it holds. */
const HELD = namedHolder();

// A table's key lists are encoded and parsed with these (never while another use is under way).
const keyWriter = new FlatWriter();
const keyReader = new FlatReader();

/** A queue's shape table, as one thread knows it. */
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
    /** @internal the index of the table's lock word (its count and bytes follow; tests hold the lock) */
    readonly at: number,
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
    const kw = keyWriter;
    kw.pos = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] === '__proto__' || !kw.putString(keys[i])) return -1;
    const len = kw.pos;
    const w = this.w;
    const at = this.at;
    // Taken, or taken over (no repair needed); with no deadline it cannot time out.
    if (!namedTryLock(w, at, HELD)) namedLockSync(w, at, HELD, Number.POSITIVE_INFINITY);
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
      t.set(kw.out.subarray(0, len), used + 3);
      Atomics.store(w, at + 2, used + 3 + len);
      Atomics.store(w, at + 1, count + 1); // publishes the entry
      this.sync(count + 1);
      return count;
    } finally {
      namedUnlock(w, at);
    }
  }

  /** Parse the entries up to `count`. */
  private sync(count: number): void {
    const t = this.table;
    const r = keyReader;
    while (this.ids.length < count) {
      const p = this.parsed;
      const len = t[p] | (t[p + 1] << 8);
      const n = t[p + 2];
      r.pos = p + 3;
      const keys: string[] = [];
      for (let i = 0; i < n; i++) keys.push(r.readString(t));
      this.parsed = p + 3 + len;
      this.byName.set(JSON.stringify(keys), this.ids.length);
      this.ids.push(keys);
    }
  }
}
