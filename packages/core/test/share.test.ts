import { describe, expect, it } from 'vitest';
import {
  BRAND,
  DataCloneError,
  allocateWords,
  memoryBackend,
  decode,
  decodeSync,
  describeWords,
  encode,
  findUncloneable,
  loadModule,
  registerShareable,
  registeredEntry,
  shareTag,
  wordsView,
  type SharedWords,
} from '@conc/core';

/** A minimal shareable primitive: one shared word. */
class Cell {
  declare readonly words: Int32Array;
  constructor(words?: Int32Array) {
    Object.defineProperty(this, 'words', { value: words ?? allocateWords(1) });
  }
  get value(): number {
    return Atomics.load(this.words, 0);
  }
  set value(v: number) {
    Atomics.store(this.words, 0, v);
  }
}
registerShareable(Cell, {
  tag: 'test.core.Cell',
  module: import.meta.url,
  share: (c, destination) => ({ words: describeWords(c.words), destination }),
  revive: (data: { words: SharedWords }) => new Cell(wordsView(data.words)),
});

describe('encode / decode of plain data', () => {
  const samples: unknown[] = [
    0,
    -1.5,
    'text',
    '',
    null,
    undefined,
    true,
    10n,
    [],
    {},
    [1, [2, [3, [4, { deep: [5, { deeper: 'x' }] }]]]],
    { a: { b: { c: [null, undefined, { d: 'e' }] } }, list: [[], {}, [[]]] },
    [new Date(0), /re/g, new Map([[1, 'one']]), new Set([1, 2]), new Uint8Array([1, 2, 3])],
  ];

  it.each(samples.map((s) => [s]))('round-trips %o unchanged', async (value) => {
    const encoded = encode(value);
    expect(encoded.v).toBe(value); // nothing to replace: not copied
    expect(await decode(encoded)).toEqual(value);
    expect(decodeSync(encoded)).toEqual(value);
    // and the encoded form survives structured clone (what postMessage does)
    expect(await decode(structuredClone(encoded))).toEqual(value);
  });

  it('does not mutate its input', () => {
    const input = { a: [1, { b: 2 }] };
    const copy = structuredClone(input);
    encode(input);
    expect(input).toEqual(copy);
  });
});

describe('encode refuses what cannot cross, naming the path', () => {
  it('a function nested in an object in an array', () => {
    const call = () => encode([1, { cb: function cb() {} }], 'thread', 'args');
    expect(call).toThrow(DataCloneError);
    expect(call).toThrow(/^args\[1\]\.cb is a function \(cb\)/);
  });

  it('an anonymous function at top level', () => {
    expect(() =>
      encode(
        (
          () => () =>
            1
        )(),
        'thread',
        'args',
      ),
    ).toThrow(/args is a function \(anonymous\)/);
  });

  it('a symbol, deep inside', () => {
    const call = () => encode({ opts: { list: [0, 1, Symbol('tag')] } }, 'thread', 'args');
    expect(call).toThrow(DataCloneError);
    expect(call).toThrow(/args\.opts\.list\[2\] is a symbol \(Symbol\(tag\)\)/);
  });

  it('uses "value" as the default path and names the destination', () => {
    expect(() => encode(() => 1)).toThrow(/^value is a function.*another thread/);
  });

  it('the error is a DataCloneError, an Error with that name', () => {
    try {
      encode([Symbol('s')], 'thread', 'args');
      expect.unreachable('encode should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(DataCloneError);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).name).toBe('DataCloneError');
    }
  });
});

describe('share / revive of a registered class', () => {
  it('brands the class: instanceof and shareTag', () => {
    const c = new Cell();
    expect(c).toBeInstanceOf(Cell);
    expect((c as any)[BRAND]).toBe('test.core.Cell');
    expect(shareTag(c)).toBe('test.core.Cell');
    expect(shareTag({})).toBeUndefined();
    expect(shareTag(null)).toBeUndefined();
    expect(shareTag(5)).toBeUndefined();
    expect({} instanceof Cell).toBe(false);
    expect(registeredEntry('test.core.Cell')?.module).toBe(import.meta.url);
    expect(registeredEntry('no.such.tag')).toBeUndefined();
  });

  it('replaces instances nested in arrays and plain objects with markers, and revives them over the same memory', async () => {
    const c1 = new Cell();
    const c2 = new Cell();
    c1.value = 11;
    const input = { a: [c1, { b: c2 }], n: 1 };
    const encoded = encode(input, 'thread', 'args') as any;
    expect(encoded.s.map((r: any) => r.tag)).toEqual(['test.core.Cell', 'test.core.Cell']);
    expect(encoded.s[0].module).toBe(import.meta.url);
    expect(encoded.s[0].data.destination).toBe('thread');
    expect(encoded.v.a[0]).toBe(encoded.s[0].p);
    expect(encoded.v.a[1].b).toBe(encoded.s[1].p);
    expect(encoded.v.n).toBe(1);
    expect(input.a[0]).toBe(c1); // the input is not changed

    const decoded = (await decode(structuredClone(encoded))) as any;
    expect(decoded.n).toBe(1);
    expect(decoded.a[0]).toBeInstanceOf(Cell);
    expect(decoded.a[1].b).toBeInstanceOf(Cell);
    expect(decoded.a[0].value).toBe(11);
    decoded.a[1].b.value = 22;
    expect(c2.value).toBe(22);
  });

  it('a primitive bound for a process: its words by reference on shared memory; refused without @conc/process on the fallback', () => {
    if (memoryBackend().name === 'shm') {
      // Its words are in the arena: it crosses as data (no broker), and revives over the same words.
      const cell = new Cell();
      const encoded = encode({ x: [cell] }, 'process', 'args') as any;
      expect(encoded.s[0].remote).toBeUndefined();
      expect(encoded.s[0].data.words.arena.pid).toBe(process.pid);
      expect(encoded.s[0].data.words.buffer).toBeUndefined();
      const copy = (decodeSync(structuredClone(encoded)) as any).x[0];
      copy.value = 41;
      expect(cell.value).toBe(41);
      // Words in thread-only memory (a SharedArrayBuffer) cannot be mapped by a process: refused.
      const local = new Cell(new Int32Array(new SharedArrayBuffer(4)));
      expect(() => encode([local], 'process', 'args')).toThrow(/args\[0\] is a test\.core\.Cell.*@conc\/process/);
      return;
    }
    expect(() => encode({ x: [new Cell()] }, 'process', 'args')).toThrow(DataCloneError);
    expect(() => encode({ x: [new Cell()] }, 'process', 'args')).toThrow(
      /args\.x\[0\] is a test\.core\.Cell.*@conc\/process/,
    );
  });

  it('decodeSync names the missing module of an unregistered class', () => {
    const encoded = structuredClone(encode([new Cell()])) as any;
    encoded.s[0].tag = 'test.never.registered';
    encoded.s[0].module = 'file:///nowhere.mjs';
    expect(() => decodeSync(encoded)).toThrow(/cannot revive test\.never\.registered.*nowhere\.mjs/);
  });
});

describe('data is never code (issue 9)', () => {
  const lookalikes: unknown[] = [
    { __conc_shared__: 'test.core.Cell', module: import.meta.url, data: { words: null } },
    { __conc_encoded__: 1, v: {}, s: [{ p: {}, tag: 'test.core.Cell', module: 'data:text/javascript,1' }] },
    [{ __conc_shared__: 'x', module: 'data:text/javascript,globalThis.pwned=1', remote: { bridge: 'data:,' } }],
  ];
  it.each(lookalikes.map((s) => [s]))('a look-alike %o comes back as the plain data it is', async (value) => {
    const back = await decode(structuredClone(encode({ wrapped: value, cell: new Cell() })));
    expect((back as any).wrapped).toEqual(value);
    expect((back as any).cell).toBeInstanceOf(Cell);
    expect(await decode(structuredClone(encode(value)))).toEqual(value);
    expect((globalThis as any).pwned).toBeUndefined();
  });

  it('decode refuses what encode did not return', () => {
    expect(() => decodeSync({ __conc_shared__: 'test.core.Cell' } as never)).toThrow(TypeError);
    expect(() => decodeSync([1] as never)).toThrow(/not encoded by conc/);
  });

  it('only file: modules load', async () => {
    await expect(loadModule('data:text/javascript,globalThis.pwned=1')).rejects.toThrow(/only file: modules/);
    await expect(loadModule('https://example.invalid/x.mjs')).rejects.toThrow(TypeError);
    expect((globalThis as any).pwned).toBeUndefined();
  });

  it('a key named __proto__ stays an own key and does not set the prototype', async () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "cell": null}');
    value.cell = new Cell();
    const back = (await decode(structuredClone(encode(value)))) as any;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(({} as any).polluted).toBeUndefined();
    expect(back.cell).toBeInstanceOf(Cell);
  });
});

describe('cycles and shared references (issue 9)', () => {
  it('keeps cycles, [o, o] and one instance twice, in arrays, objects, Maps (keys too) and Sets, in order', async () => {
    const cell = new Cell();
    const o: any = { name: 'o' };
    o.self = o;
    const m = new Map<unknown, unknown>([
      ['first', 1],
      [cell, 'cell as a key'],
    ]);
    m.set('me', m);
    const set = new Set<unknown>(['a', cell, 'z']);
    const input = { o, pair: [o, o], cells: [cell, cell], m, set };
    const back = (await decode(structuredClone(encode(input)))) as any;
    expect(back.o.self).toBe(back.o);
    expect(back.pair[0]).toBe(back.pair[1]);
    expect(back.pair[0]).toBe(back.o);
    expect(back.cells[0]).toBe(back.cells[1]);
    expect(back.cells[0]).toBeInstanceOf(Cell);
    expect(back.m.get('me')).toBe(back.m);
    expect([...back.m.keys()]).toEqual(['first', back.cells[0], 'me']);
    expect([...back.set]).toEqual(['a', back.cells[0], 'z']);
    back.cells[0].value = 7;
    expect(cell.value).toBe(7);
  });

  it('a cycle without primitives needs no copy, and a function inside a cycle is named', () => {
    const o: any = { list: [] };
    o.list.push(o);
    expect(encode(o).v).toBe(o);
    o.list.push(() => 1);
    expect(() => encode(o, 'thread', 'args')).toThrow(/args\.list\[1\] is a function/);
  });
});

describe('findUncloneable', () => {
  it('is undefined for clonable values', () => {
    expect(findUncloneable({ a: [1, 'x', new Map()] }, 'args')).toBeUndefined();
  });

  it('names the innermost path that structured clone refuses', () => {
    const found = findUncloneable([1, { cb: () => 1 }], 'args');
    expect(found).toMatch(/^args\[1\]\.cb: /);
  });

  it('follows a cycle once and still names the bad part', () => {
    const o: any = { a: 1 };
    o.self = o;
    o.weak = new WeakMap();
    expect(findUncloneable([o], 'args')).toMatch(/^args\[0\]\.weak: /);
  });

  it('stops at a class instance (not walked) and names it', () => {
    class Holder {
      fn = () => 1;
    }
    expect(findUncloneable([0, { h: new Holder() }], 'args')).toMatch(/^args\[1\]\.h: /);
  });
});

describe('loadModule', () => {
  it('imports an ESM file URL and requires a .cjs', async () => {
    const esm = (await loadModule(new URL('./fixtures/esm.mjs', import.meta.url).href)) as any;
    expect(esm.kind).toBe('esm');
    const cjs = (await loadModule(new URL('./fixtures/cjs.cjs', import.meta.url).href)) as any;
    expect(cjs.kind).toBe('cjs');
  });
});
