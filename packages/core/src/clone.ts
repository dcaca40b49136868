/**
 * What cannot be cloned, and how to say so: the one place that names the
 * part of a value a thread, a process or a queue refuses.
 *
 * - {@link findUncloneable}: after a postMessage (a Thread's args or result)
 *   failed, the first part structured clone refuses.
 * - Queue items, one wording for every path that refuses one (a thread's put,
 *   in @conc/queue's record.ts; a child process's put, checked in the child
 *   before anything is sent, in @conc/process), so a refusal reads the same
 *   wherever the put was made. An item is any value node:v8 serializes,
 *   except a conc primitive (its state is shared memory, which only Thread /
 *   Process args can carry: it would arrive as an empty object). Two moments:
 *   before serializing, {@link itemRefusal} refuses a function, a symbol or a
 *   value holding a primitive; after node:v8 refused to serialize it,
 *   {@link itemCloneError} names the part it refused.
 *
 * Every search here is core's one walker (walk.ts): each object once, cycles
 * and shared references kept, paths such as `item.cfg.get(k)`.
 */
import v8 from 'node:v8';
import { DataCloneError } from './errors.js';
import { shareTag } from './share.js';
import { WALK_SKIP, WALK_STOP, isPlainObject, walk } from './walk.js';

/** Deeper than this, a search for a primitive inside an item stops looking (a guard against very deep values). */
const MAX_DEPTH = 100;

/**
 * Find the first part of `value` that structured clone refuses and say where.
 * Used after a failed postMessage to name the bad argument. Looks into the
 * arrays and plain objects that fail, down to the first failing part with
 * no failing part inside (a Map or Set that fails is named whole).
 */
export function findUncloneable(value: unknown, path: string): string | undefined {
  let found: string | undefined;
  walk(
    value,
    (v, at) => {
      try {
        structuredClone(v);
        return WALK_SKIP;
      } catch (error) {
        found = `${at.path()}: ${(error as Error).message.replace(/\.$/, '')}`;
        const inside = typeof v === 'object' && v !== null && (Array.isArray(v) || isPlainObject(v));
        return inside ? undefined : WALK_STOP;
      }
    },
    // Left: nothing inside it failed, so it is the one.
    { path, leave: () => WALK_STOP },
  );
  return found;
}

/** Why a function or a symbol cannot be an item, else undefined. */
function notAnItem(value: unknown): string | undefined {
  if (typeof value === 'function') {
    return `is a function (${value.name || 'anonymous'}); functions cannot be put in a queue`;
  }
  if (typeof value === 'symbol') return `is a symbol (${String(value)}); symbols cannot be put in a queue`;
  return undefined;
}

/**
 * The path and reason of the first part of `item` node:v8 refuses to
 * serialize: a function or symbol, else the innermost object that fails with
 * nothing failing inside it (Proxies and ArrayBuffer views are not looked into).
 */
function findBad(item: unknown): string | undefined {
  let found: string | undefined;
  const failed = new Map<object, string>();
  walk(
    item,
    (v, at) => {
      const direct = notAnItem(v);
      if (direct) {
        found = `${at.path()} ${direct}`;
        return WALK_STOP;
      }
      if (typeof v !== 'object' || v === null) return WALK_SKIP;
      try {
        v8.serialize(v);
        return WALK_SKIP;
      } catch (error) {
        failed.set(v, (error as Error).message);
        return undefined;
      }
    },
    {
      path: 'item',
      objects: 'all',
      leave: (v, at) => {
        found = `${at.path()} cannot be cloned (${failed.get(v)})`;
        return WALK_STOP;
      },
    },
  );
  return found;
}

/** The path of a conc primitive inside `item` (arrays, objects, Maps, Sets), if any. */
function findPrimitive(item: unknown): string | undefined {
  let found: string | undefined;
  walk(
    item,
    (v, at) => {
      if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return WALK_SKIP;
      const tag = shareTag(v);
      if (tag !== undefined) {
        found = `${at.path()} is a conc ${tag.replace(/^conc\./, '')}, which`;
        return WALK_STOP;
      }
      return at.depth >= MAX_DEPTH ? WALK_SKIP : undefined;
    },
    { path: 'item', objects: 'all' },
  );
  return found;
}

/**
 * If `item` is or holds a conc primitive: the message of the DataCloneError
 * `who` (as `Queue.put`) throws for it. Else undefined.
 */
export function primitiveItemMessage(item: unknown, who: string): string | undefined {
  const primitive = findPrimitive(item);
  if (!primitive) return undefined;
  return `${who}: ${primitive} cannot be put in a queue (its shared memory cannot be copied); pass it to the thread in args; nothing was enqueued`;
}

/**
 * The message of the DataCloneError `who` throws for an item node:v8 cannot
 * serialize (`cause`: the error it threw, if known), naming the part it refuses.
 */
export function uncloneableItemMessage(item: unknown, who: string, cause?: Error): string {
  const where = findBad(item) ?? `item cannot be cloned (${cause?.message ?? 'unknown reason'})`;
  return `${who}: ${where}; nothing was enqueued`;
}

/**
 * The DataCloneError `who` (as `Queue.put`) throws for `item` before
 * serializing it: a function, a symbol, or a value that is or holds a conc
 * primitive. Else undefined (node:v8 may still refuse it: {@link itemCloneError}).
 */
export function itemRefusal(item: unknown, who: string): DataCloneError | undefined {
  const type = typeof item;
  if (type === 'function' || type === 'symbol') return itemCloneError(item, who);
  const message = type === 'object' && item !== null ? primitiveItemMessage(item, who) : undefined;
  return message ? new DataCloneError(message) : undefined;
}

/**
 * The DataCloneError `who` throws for an item node:v8 cannot serialize
 * (`cause`: the error it threw, if known), naming the part it refuses.
 */
export function itemCloneError(item: unknown, who: string, cause?: Error): DataCloneError {
  return new DataCloneError(uncloneableItemMessage(item, who, cause));
}
