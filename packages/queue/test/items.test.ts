// What comes out of a queue is what structured clone would make of what
// went in: every kind of record (src/record.ts), at every position of the ring
// (so each one is also split across the ring's end at some point).
import { describe, expect, it } from 'vitest';
import { Queue } from '@conc/queue';

// biome-ignore lint/suspicious/noSparseArray: holes are what this item tests
const withHoles = [1, , 3];
const withExtra = Object.assign([1, 2], { extra: 'kept' });
// n keys, as many as its length: only the keys tell it from a dense array
// biome-ignore lint/suspicious/noSparseArray: holes are what this item tests
const holeAndExtra = Object.assign([1, , 3], { extra: 'kept' });
const nullProto = Object.assign(Object.create(null), { a: 1, b: 'two' });
const protoKey = JSON.parse('{"__proto__": {"x": 1}, "y": 2}');
class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}
const shared = { s: 1 };
const cyclic: Record<string, unknown> = { name: 'loop' };
cyclic.self = cyclic;

const values: [string, unknown][] = [
  ['0', 0],
  ['-0', -0],
  ['small int', 42],
  ['negative small int', -123_456],
  ['smi bounds', [2 ** 27 - 1, -(2 ** 27)]],
  ['int32 beyond smi', 2 ** 27],
  ['int32 min', -(2 ** 31)],
  ['beyond int32', 2 ** 31],
  ['float', Math.PI],
  ['NaN', Number.NaN],
  ['Infinity', Number.NEGATIVE_INFINITY],
  ['max safe', Number.MAX_SAFE_INTEGER],
  ['true', true],
  ['false', false],
  ['null', null],
  ['undefined', undefined],
  ['empty string', ''],
  ['ascii', 'hello'],
  ['ascii 33 chars', 'a'.repeat(33)],
  ['latin-1', 'héllo wörld'],
  ['emoji', '🎉 party'],
  ['lone surrogates', '\uD800x\uDFFF'],
  ['long two-byte', 'ж'.repeat(5000)],
  ['long ascii', 'q'.repeat(70_000)],
  ['flat object', { id: 1, name: 'item1' }],
  [
    'flat object of every primitive',
    { a: 1, b: -0, c: 1.5, d: 'é', e: null, f: undefined, g: true, h: false, i: 2 ** 40, j: '' },
  ],
  ['flat array', [1, 'two', null, undefined, 4.5, false]],
  ['empty object', {}],
  ['empty array', []],
  ['integer-like keys', { 2: 'b', 1: 'a', x: 'c' }],
  ['unicode keys', { ключ: 'значение', '🎉': 1 }],
  ['33 keys', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))],
  ['string over 1024 chars in an object', { s: 'w'.repeat(1025) }],
  ['array with holes', withHoles],
  ['array with an extra property', withExtra],
  ['array with a hole and an extra property', holeAndExtra],
  ['null-prototype object', nullProto],
  ['own __proto__ key', protoKey],
  ['nested', { a: { b: { c: [1, [2, [3]]] } } }],
  ['shared references', { x: shared, y: shared }],
  ['cycle', cyclic],
  [
    'Map',
    new Map<unknown, unknown>([
      [1, 'a'],
      ['b', { c: 2 }],
    ]),
  ],
  ['Set', new Set([1, 'x', null])],
  ['Date', new Date(1_700_000_000_000)],
  ['RegExp', /a+b/gi],
  ['BigInt', 12345678901234567890n],
  ['Uint8Array', new Uint8Array([1, 2, 255])],
  ['Float64Array', new Float64Array([1.5, -0, Number.NaN])],
  ['ArrayBuffer', new Uint16Array([1, 65535]).buffer],
  ['Error', new RangeError('bad range')],
  ['boxed string', new String('boxed')],
];

describe('items come out as structured clone makes them', () => {
  it.each(values)('%s', (_, value) => {
    const q = new Queue<unknown>(0, { byteCapacity: 256 * 1024 });
    q.putNowait(value);
    const back = q.getNowait();
    expect(back).toStrictEqual(structuredClone(value));
  });

  it('flat objects of many shapes, interleaved, past the end of the shape table: exact keys, order and values', () => {
    const q = new Queue<unknown>(0, { byteCapacity: 1 << 20 });
    const items: Record<string, unknown>[] = [];
    // 600 shapes with long keys fill the 4 KiB shape table: later shapes go inline
    for (let round = 0; round < 3; round++) {
      for (let s = 0; s < 600; s++) {
        const o: Record<string, unknown> = {};
        const keys = [`key_number_${s}_a`, `${s}`, s % 5 === 0 ? `ключ_${s}` : `b${s}`, s % 7 === 0 ? '' : 'c'];
        if (s % 2 === 1) keys.reverse();
        for (const [j, k] of keys.entries()) o[k] = [round, `v${s}`, s % 3 === 0 ? -0 : 0.5, null][j];
        items.push(o);
        if (s % 50 === 0) items.push({ id: s, name: `item${s}` }); // a shape coming back
      }
    }
    for (const item of items) q.putNowait(item);
    for (const item of items) {
      const back = q.getNowait() as Record<string, unknown>;
      expect(Object.keys(back)).toEqual(Object.keys(item));
      expect(back).toStrictEqual(structuredClone(item));
    }
  });

  it('flat objects: getters are read once even when the shape changes', () => {
    const q = new Queue<any>();
    let reads = 0;
    q.putNowait({ a: 1, b: 2 });
    const item = {
      a: 1,
      get c() {
        reads += 1;
        return reads;
      },
    };
    q.putNowait(item);
    q.putNowait(item);
    expect(q.getNowait()).toEqual({ a: 1, b: 2 });
    expect(q.getNowait()).toEqual({ a: 1, c: 1 });
    expect(q.getNowait()).toEqual({ a: 1, c: 2 });
    expect(reads).toBe(2);
  });

  it('flat objects whose getter adds or deletes keys meanwhile still come out as structured clone makes them', () => {
    const q = new Queue<any>();
    const adds: Record<string, unknown> = { a: 1 };
    Object.defineProperty(adds, 'b', {
      enumerable: true,
      get() {
        adds.z = 26;
        return 2;
      },
    });
    const deletes: Record<string, unknown> = { a: 1 };
    Object.defineProperty(deletes, 'b', {
      enumerable: true,
      configurable: true,
      get() {
        delete deletes.c;
        return 2;
      },
    });
    deletes.c = 3;
    for (const item of [adds, deletes]) {
      q.putNowait(item);
      const back = q.getNowait();
      // structured clone lists the keys first, then reads them (skipping deleted ones)
      expect(Object.keys(back)).toEqual(['a', 'b']);
      expect(back).toStrictEqual({ a: 1, b: 2 });
    }
  });

  it('keeps identity (shared references and cycles) like structured clone', () => {
    const q = new Queue<any>();
    q.putNowait({ x: shared, y: shared });
    q.putNowait(cyclic);
    const a = q.getNowait();
    expect(a.x).toBe(a.y);
    const c = q.getNowait();
    expect(c.self).toBe(c);
  });

  it('copies: later changes to the item do not reach the queue', () => {
    const q = new Queue<any>();
    const item = { id: 1, list: [1, 2] };
    q.putNowait(item);
    item.id = 2;
    item.list.push(3);
    expect(q.getNowait()).toEqual({ id: 1, list: [1, 2] });
  });

  it('a class instance arrives as a plain object with its own fields', () => {
    const q = new Queue<any>();
    q.putNowait(new Point(3, 4));
    const p = q.getNowait();
    expect(p).toEqual({ x: 3, y: 4 });
    expect(p).not.toBeInstanceOf(Point);
  });

  it('getters are read once, at put', () => {
    const q = new Queue<any>();
    let reads = 0;
    const item = {
      get value() {
        reads += 1;
        return reads;
      },
    };
    q.putNowait(item);
    expect(q.getNowait()).toEqual({ value: 1 });
    expect(reads).toBe(1);
  });

  it('a typed array that comes out owns its memory (not the ring)', () => {
    const q = new Queue<Uint8Array>(0, { byteCapacity: 1024 });
    q.putNowait(new Uint8Array([7, 7, 7]));
    const a = q.getNowait();
    expect(a.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    for (let i = 0; i < 100; i++) {
      q.putNowait(new Uint8Array(100).fill(i));
      q.getNowait();
    }
    expect([...a]).toEqual([7, 7, 7]);
  });

  it('every kind at every offset of a small ring, wrapping on each', () => {
    const q = new Queue<unknown>(0, { byteCapacity: 4000 });
    const small = values.filter(([name]) => !/long|1024/.test(name)).map(([, v]) => v);
    for (let shift = 0; shift < 64; shift++) {
      q.putNowait('x'.repeat(shift)); // move the ring's ends along
      expect(q.getNowait()).toBe('x'.repeat(shift));
      for (const v of small) {
        q.putNowait(v);
        q.putNowait(shift);
        expect(q.getNowait()).toStrictEqual(structuredClone(v));
        expect(q.getNowait()).toBe(shift);
      }
    }
  });
});
