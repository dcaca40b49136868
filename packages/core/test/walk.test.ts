import { describe, expect, it } from 'vitest';
import { WALK_SKIP, WALK_STOP, walk, walkReplace, type WalkAt } from '@conc/core';

/** Every visit, as [path, value], in order. */
function visits(value: unknown, options: Parameters<typeof walk>[2] = {}): [string, unknown][] {
  const out: [string, unknown][] = [];
  walk(value, (v, at) => void out.push([at.path(), v]), options);
  return out;
}

describe('walk: what is visited, and its path', () => {
  it('visits the root, array elements, keys, Map keys and values, Set members, in order, with their paths', () => {
    const m = new Map<unknown, unknown>([['k', 1]]);
    const s = new Set(['a', 'b']);
    const value = { list: [10, { x: 'y' }], m, s };
    expect(visits(value, { path: 'args' })).toEqual([
      ['args', value],
      ['args.list', value.list],
      ['args.list[0]', 10],
      ['args.list[1]', value.list[1]],
      ['args.list[1].x', 'y'],
      ['args.m', m],
      ['args.m (a Map key)', 'k'],
      ['args.m.get(k)', 1],
      ['args.s', s],
      ['args.s.values()[0]', 'a'],
      ['args.s.values()[1]', 'b'],
    ]);
  });

  it('walks inside Map keys (objects as keys) and names them', () => {
    const key = { fn: 'inside a key' };
    const m = new Map([[key, 'v']]);
    expect(visits([m])).toEqual([
      ['value', [m]],
      ['value[0]', m],
      ['value[0] (a Map key)', key],
      ['value[0] (a Map key).fn', 'inside a key'],
      ['value[0].get([object Object])', 'v'],
    ]);
  });

  it('names the root "value" by default and reports depth', () => {
    const depths: [string, number][] = [];
    walk({ a: [1] }, (_v, at) => void depths.push([at.path(), at.depth]));
    expect(depths).toEqual([
      ['value', 0],
      ['value.a', 1],
      ['value.a[0]', 2],
    ]);
  });

  it('does not visit array holes, and keeps them holes in a copy', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    const sparse = [1, , 3];
    expect(visits(sparse).map(([p]) => p)).toEqual(['value', 'value[0]', 'value[2]']);
    const copy = walk(sparse, () => {}, { copy: true }) as unknown[];
    expect(copy).not.toBe(sparse);
    expect(1 in copy).toBe(false);
    expect(copy.length).toBe(3);
  });

  it('looks inside plain objects only (not class instances, Proxies, typed arrays), unless objects: all', () => {
    class Point {
      x = 1;
    }
    const proxy = new Proxy({ hidden: 1 }, {});
    const bytes = new Uint8Array([1, 2]);
    const nullProto = Object.assign(Object.create(null), { n: 1 });
    const value = [new Point(), proxy, bytes, nullProto];
    expect(visits(value).map(([p]) => p)).toEqual([
      'value',
      'value[0]',
      'value[1]',
      'value[2]',
      'value[3]',
      'value[3].n',
    ]);
    expect(visits(value, { objects: 'all' }).map(([p]) => p)).toEqual([
      'value',
      'value[0]',
      'value[0].x',
      'value[1]',
      'value[2]',
      'value[3]',
      'value[3].n',
    ]);
  });

  it('refuses copy with objects: all', () => {
    expect(() => walk({}, () => {}, { copy: true, objects: 'all' })).toThrow(TypeError);
  });

  it('builds a path only when asked (the visitor that never asks pays nothing) and keeps it right after siblings', () => {
    const seen: string[] = [];
    walk({ a: { b: 1 }, c: [{ d: 2 }] }, (v, at: WalkAt) => {
      if (typeof v === 'number') seen.push(at.path());
    });
    expect(seen).toEqual(['value.a.b', 'value.c[0].d']);
  });
});

describe('walk: cycles and shared references', () => {
  it('visits an object reached twice once, and follows a cycle once', () => {
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { shared };
    cyclic.self = cyclic;
    cyclic.again = shared;
    const m = new Map<unknown, unknown>();
    m.set(m, m);
    const set = new Set<unknown>();
    set.add(set);
    const seen = visits([cyclic, m, set]);
    const objects = seen.map(([, v]) => v).filter((v) => typeof v === 'object');
    expect(new Set(objects).size).toBe(objects.length); // each object once
    expect(seen.map(([p]) => p)).toEqual([
      'value',
      'value[0]',
      'value[0].shared',
      'value[0].shared.s',
      'value[1]',
      'value[2]',
    ]);
  });

  it('copies with cycles and shared references kept (in arrays, objects, Map keys and values, Sets)', () => {
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { shared, twice: shared };
    cyclic.self = cyclic;
    const m = new Map<unknown, unknown>([[shared, shared]]);
    m.set('me', m);
    const set = new Set<unknown>([shared]);
    set.add(set);
    const root = [cyclic, m, set, shared];
    const copy = walk(root, () => {}, { copy: true }) as any[];
    expect(copy).not.toBe(root);
    expect(copy[0]).not.toBe(cyclic);
    expect(copy[0].self).toBe(copy[0]);
    const s = copy[3];
    expect(s).not.toBe(shared);
    expect(s).toEqual({ s: 1 });
    expect(copy[0].shared).toBe(s);
    expect(copy[0].twice).toBe(s);
    expect(copy[1]).not.toBe(m);
    expect([...copy[1].keys()][0]).toBe(s);
    expect(copy[1].get(s)).toBe(s);
    expect(copy[1].get('me')).toBe(copy[1]);
    expect(copy[2]).not.toBe(set);
    expect(copy[2].has(s)).toBe(true);
    expect(copy[2].has(copy[2])).toBe(true);
    // The source is untouched.
    expect(cyclic.self).toBe(cyclic);
    expect(m.get('me')).toBe(m);
  });

  it('keeps what it does not walk by reference in a copy', () => {
    const date = new Date(0);
    const bytes = new Uint8Array(1);
    const copy = walk({ date, bytes }, () => {}, { copy: true }) as any;
    expect(copy.date).toBe(date);
    expect(copy.bytes).toBe(bytes);
  });
});

describe('walk: the visitor skips, replaces, stops', () => {
  it('WALK_SKIP: does not look inside (and the skipped object is not visited again)', () => {
    const inner = { deep: { deeper: 1 } };
    const paths: string[] = [];
    walk([inner, inner, { other: 2 }], (v, at) => {
      paths.push(at.path());
      if (v === inner) return WALK_SKIP;
    });
    expect(paths).toEqual(['value', 'value[0]', 'value[2]', 'value[2].other']);
  });

  it('walkReplace in place: writes only where it replaced, the same replacement for every reference', () => {
    const ph = { placeholder: true };
    const real = { real: true };
    const untouched = { other: [1] };
    const m = new Map<unknown, unknown>([
      ['a', 1],
      [ph, 'key'],
      ['b', ph],
    ]);
    const set = new Set<unknown>(['x', ph, 'y']);
    const obj: Record<string, unknown> = { p: ph, q: untouched };
    Object.defineProperty(obj, '__proto__', { value: ph, enumerable: true, writable: true, configurable: true });
    const root = [ph, obj, m, set];
    let calls = 0;
    const out = walk(root, (v) => {
      if (v === ph) {
        calls++;
        return walkReplace(real);
      }
      if (v === real) throw new Error('a replacement is not walked');
    });
    expect(out).toBe(root);
    expect(calls).toBe(1);
    expect(root[0]).toBe(real);
    expect(obj.p).toBe(real);
    expect(obj.q).toBe(untouched);
    expect(Object.hasOwn(obj, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(obj, '__proto__')?.value).toBe(real);
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
    expect([...m]).toEqual([
      ['a', 1],
      [real, 'key'],
      ['b', real],
    ]); // rebuilt in its order
    expect([...set]).toEqual(['x', real, 'y']);
  });

  it('walkReplace of the root returns the replacement', () => {
    const real = {};
    expect(walk({ x: 1 }, () => walkReplace(real))).toBe(real);
    expect(walk(5, () => walkReplace('five'))).toBe('five');
  });

  it('walkReplace in a copy: the copy holds the replacement, the source is untouched', () => {
    const ph = {};
    const src = { a: ph, b: [ph], m: new Map([[ph, ph]]) };
    const out = walk(src, (v) => (v === ph ? walkReplace('R') : undefined), { copy: true }) as any;
    expect(out).toEqual({ a: 'R', b: ['R'], m: new Map([['R', 'R']]) });
    expect(src.a).toBe(ph);
    expect(src.b[0]).toBe(ph);
    expect([...src.m.keys()][0]).toBe(ph);
  });

  it('WALK_STOP: nothing more is visited, and a Map being rebuilt is left as it was', () => {
    const ph = {};
    const m = new Map<unknown, unknown>([
      ['a', ph],
      ['stop', 1],
      ['c', ph],
    ]);
    const paths: string[] = [];
    walk([m, 'after'], (v, at) => {
      paths.push(at.path());
      if (v === ph) return walkReplace('R');
      if (v === 'stop') return WALK_STOP;
    });
    expect(paths).toEqual(['value', 'value[0]', 'value[0] (a Map key)', 'value[0].get(a)', 'value[0] (a Map key)']);
    expect(m.get('a')).toBe(ph);
  });

  it('leave: called after a walked container, post-order; WALK_STOP from it ends the walk', () => {
    const order: string[] = [];
    walk({ a: { b: {} }, c: {} }, (_v, at) => void order.push(`visit ${at.path()}`), {
      leave: (_v, at) => {
        order.push(`leave ${at.path()}`);
        if (at.path() === 'value.a') return WALK_STOP;
      },
    });
    expect(order).toEqual(['visit value', 'visit value.a', 'visit value.a.b', 'leave value.a.b', 'leave value.a']);
  });

  it('a visitor that throws ends the walk with its error', () => {
    expect(() =>
      walk({ a: { fn: () => 1 } }, (v, at) => {
        if (typeof v === 'function') throw new TypeError(`${at.path()} is a function`);
      }),
    ).toThrow('value.a.fn is a function');
  });
});
