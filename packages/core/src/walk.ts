/**
 * One walker over the containers a value is made of: arrays, plain objects,
 * Maps (keys and values) and Sets. Every recursive walk conc makes over a
 * user's value (finding primitives to share, copying around them, reviving
 * them in place, naming the part structured clone refuses) is this one.
 *
 *     walk(value, (v, at) => {
 *       if (typeof v === 'function') throw new TypeError(`${at.path()} is a function`);
 *       if (isSpecial(v)) return WALK_SKIP;            // do not look inside
 *       if (isPlaceholder(v)) return walkReplace(real); // put `real` where `v` was
 *       if (isTheOne(v)) return WALK_STOP;             // end the whole walk
 *     }, { path: 'args' });
 *
 * The visitor is called once for the root and once for every value found
 * inside a walked container, primitives included, before the walker looks
 * inside it (pre-order); `leave`, if given, after it has (post-order, for the
 * containers walked into only). Its answer: nothing (walk into it, if it is a
 * container), {@link WALK_SKIP} (do not), {@link walkReplace}`(x)` (`x` takes
 * its place and is not walked), {@link WALK_STOP} (the walk ends now).
 * A visitor may also throw: the walk ends with that error.
 *
 * Invariants:
 *   - Each object is visited once: a shared reference or a cycle is found
 *     again in a memo (identity) and not visited again. What the first visit
 *     decided holds for every later reference: a replaced object is replaced
 *     by the same replacement everywhere, a copied container by one copy.
 *   - In place (the default), a container is written only where a visitor
 *     replaced something: an array element or a key (also `__proto__`, as an
 *     own property) set, a Map or Set rebuilt in its order; nothing else is
 *     touched. With `copy`, every walked container is copied (memoized, so
 *     shared references and cycles are kept in the copy) and the source is
 *     never written; what is not walked is kept by reference.
 *   - Walked: arrays (holes stay holes, and are not visited), Maps, Sets, and
 *     plain objects (prototype Object.prototype or null, not a Proxy), by
 *     their own enumerable string keys. With `objects: 'all'`, any other
 *     object that is not a Proxy or an ArrayBuffer view is walked by its keys
 *     as well (in place only).
 *   - Paths are built only when asked for (`at.path()`, valid during the
 *     call): `args[0].cfg` (array index, key), `m (a Map key)`, `m.get(k)`
 *     (a Map's value for key k), `s.values()[2]` (a Set's third member).
 *   - After WALK_STOP the walk returns at once: in place, Maps and Sets being
 *     rebuilt are left as they were; a copy may be partial.
 */
import { types } from 'node:util';

/** Visitor answer: do not look inside this value. */
export const WALK_SKIP: unique symbol = Symbol('conc.walk.skip') as never;
/** Visitor answer: end the walk now. */
export const WALK_STOP: unique symbol = Symbol('conc.walk.stop') as never;

/** Visitor answer made by {@link walkReplace}: put `value` where the visited value was. */
export class WalkReplacement {
  constructor(readonly value: unknown) {}
}

/** Visitor answer: `value` takes the visited value's place (and is not walked). */
export function walkReplace(value: unknown): WalkReplacement {
  return new WalkReplacement(value);
}

/** Where the walker is, passed to the visitor (valid during the call only). */
export interface WalkAt {
  /** The visited value's path from the root, e.g. `args[1].m.get(k)`. */
  path(): string;
  /** 0 for the root, 1 for what is directly inside it, ... */
  readonly depth: number;
}

// biome-ignore lint/suspicious/noConfusingVoidType: a visitor that walks on returns nothing
export type WalkStep = void | typeof WALK_SKIP | typeof WALK_STOP | WalkReplacement;
export type WalkVisitor = (value: unknown, at: WalkAt) => WalkStep;

export interface WalkOptions {
  /** The root's name in paths (default `value`). */
  path?: string;
  /** Copy every walked container instead of writing replacements in place. */
  copy?: boolean;
  /** `plain` (default): walk plain objects only; `all`: any object but Proxies and ArrayBuffer views. */
  objects?: 'plain' | 'all';
  /** Called after a container's contents were walked; WALK_STOP ends the walk. */
  // biome-ignore lint/suspicious/noConfusingVoidType: as WalkStep
  leave?(value: object, at: WalkAt): void | typeof WALK_STOP;
}

/** Whether `value` is a plain object: prototype Object.prototype or null, not a Proxy. */
export function isPlainObject(value: object): boolean {
  if (types.isProxy(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Set own property `key` (also `__proto__`) of an object. */
function setOwn(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}

// How each step of a path is written (see the header).
const INDEX = 0;
const KEY = 1;
const MAP_KEY = 2;
const MAP_VALUE = 3;
const SET_MEMBER = 4;

class Walker implements WalkAt {
  depth = 0;
  stopped = false;
  private readonly kinds: number[] = [];
  private readonly keys: unknown[] = [];
  private readonly memo = new Map<object, unknown>();

  constructor(
    private readonly root: string,
    private readonly visit: WalkVisitor,
    private readonly copy: boolean,
    private readonly all: boolean,
    private readonly leave: WalkOptions['leave'],
  ) {}

  path(): string {
    let out = this.root;
    for (let i = 0; i < this.depth; i++) {
      const key = this.keys[i];
      switch (this.kinds[i]) {
        case INDEX:
          out += `[${key}]`;
          break;
        case KEY:
          out += `.${key}`;
          break;
        case MAP_KEY:
          out += ' (a Map key)';
          break;
        case MAP_VALUE:
          out += `.get(${String(key)})`;
          break;
        default:
          out += `.values()[${key}]`;
      }
    }
    return out;
  }

  /** What goes where `value` was, walking it one step down from here. */
  child(value: unknown, kind: number, key: unknown): unknown {
    const d = this.depth;
    this.kinds[d] = kind;
    this.keys[d] = key;
    this.depth = d + 1;
    const out = this.node(value);
    this.depth = d;
    return out;
  }

  node(value: unknown): unknown {
    const isObject = typeof value === 'object' && value !== null;
    if (isObject) {
      const known = this.memo.get(value);
      if (known !== undefined || this.memo.has(value)) return known;
    }
    const step = this.visit(value, this);
    if (step === WALK_STOP) {
      this.stopped = true;
      return value;
    }
    if (step instanceof WalkReplacement) {
      if (isObject) this.memo.set(value, step.value);
      return step.value;
    }
    if (!isObject) return value;
    if (step === WALK_SKIP) {
      this.memo.set(value, value);
      return value;
    }
    const out = this.contents(value);
    if (out !== undefined && !this.stopped && this.leave?.(value, this) === WALK_STOP) this.stopped = true;
    return out ?? value;
  }

  /** Walk a container's contents; its copy (or itself), or undefined if it is not one. */
  private contents(value: object): unknown {
    const copy = this.copy;
    if (Array.isArray(value)) {
      const n = value.length;
      const out: unknown[] = copy ? new Array(n) : value;
      this.memo.set(value, out);
      for (let i = 0; i < n; i++) {
        if (!(i in value)) continue;
        const x = value[i];
        const y = this.child(x, INDEX, i);
        if (this.stopped) break;
        if (copy || y !== x) out[i] = y;
      }
      return out;
    }
    if (value instanceof Map) {
      const out = copy ? new Map() : value;
      this.memo.set(value, out);
      const entries: unknown[] = [];
      let changed = false;
      for (const [k, v] of copy ? value : [...value]) {
        const k2 = this.child(k, MAP_KEY, k);
        if (this.stopped) return out;
        const v2 = this.child(v, MAP_VALUE, k);
        if (this.stopped) return out;
        if (copy) out.set(k2, v2);
        else {
          if (k2 !== k || v2 !== v) changed = true;
          entries.push(k2, v2);
        }
      }
      if (changed) {
        value.clear();
        for (let i = 0; i < entries.length; i += 2) value.set(entries[i], entries[i + 1]);
      }
      return out;
    }
    if (value instanceof Set) {
      const out = copy ? new Set() : value;
      this.memo.set(value, out);
      const members: unknown[] = [];
      let changed = false;
      let i = 0;
      for (const x of copy ? value : [...value]) {
        const y = this.child(x, SET_MEMBER, i++);
        if (this.stopped) return out;
        if (copy) out.add(y);
        else {
          if (y !== x) changed = true;
          members.push(y);
        }
      }
      if (changed) {
        value.clear();
        for (const y of members) value.add(y);
      }
      return out;
    }
    if (this.all ? !types.isProxy(value) && !ArrayBuffer.isView(value) : isPlainObject(value)) {
      const out: Record<string, unknown> = copy ? {} : (value as Record<string, unknown>);
      this.memo.set(value, out);
      for (const key of Object.keys(value)) {
        const x = (value as Record<string, unknown>)[key];
        const y = this.child(x, KEY, key);
        if (this.stopped) break;
        if (copy || y !== x) setOwn(out, key, y);
      }
      return out;
    }
    this.memo.set(value, value);
    return undefined;
  }
}

/**
 * Walk `value` (see the top of this file): call `visit` on it and on every
 * value inside its arrays, plain objects, Maps and Sets, each object once.
 * Returns what stands for `value` after the walk: its replacement, its copy
 * (with `copy`), or `value` itself.
 */
export function walk(value: unknown, visit: WalkVisitor, options: WalkOptions = {}): unknown {
  const copy = options.copy === true;
  const all = options.objects === 'all';
  if (copy && all) throw new TypeError("walk: copy and objects: 'all' cannot be combined (only containers are copied)");
  return new Walker(options.path ?? 'value', visit, copy, all, options.leave).node(value);
}
