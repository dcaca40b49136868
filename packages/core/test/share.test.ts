import { describe, expect, it } from 'vitest';
import {
  BRAND,
  DataCloneError,
  MARK,
  allocateWords,
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
    expect(encoded).toEqual(value);
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
    expect(encoded.a[0][MARK]).toBe('test.core.Cell');
    expect(encoded.a[0].module).toBe(import.meta.url);
    expect(encoded.a[0].data.destination).toBe('thread');
    expect(encoded.a[1].b[MARK]).toBe('test.core.Cell');
    expect(encoded.n).toBe(1);

    const decoded = (await decode(structuredClone(encoded))) as any;
    expect(decoded.n).toBe(1);
    expect(decoded.a[0]).toBeInstanceOf(Cell);
    expect(decoded.a[1].b).toBeInstanceOf(Cell);
    expect(decoded.a[0].value).toBe(11);
    decoded.a[1].b.value = 22;
    expect(c2.value).toBe(22);
  });

  it('refuses to send a primitive to a process without @conc/process', () => {
    expect(() => encode({ x: [new Cell()] }, 'process', 'args')).toThrow(DataCloneError);
    expect(() => encode({ x: [new Cell()] }, 'process', 'args')).toThrow(
      /args\.x\[0\] is a test\.core\.Cell.*@conc\/process/,
    );
  });

  it('decodeSync names the missing module of an unregistered marker', () => {
    const marker = { [MARK]: 'test.never.registered', module: 'file:///nowhere.mjs', data: {} };
    expect(() => decodeSync([marker])).toThrow(/cannot revive test\.never\.registered.*nowhere\.mjs/);
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
