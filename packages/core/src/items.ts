/**
 * What cannot be a queue item, and how to say so: one wording for every
 * path that refuses an item (a thread's put, in @conc/queue's codec, and a
 * child process's put, checked in the child before anything is sent, in
 * @conc/process), so a refusal reads the same wherever the put was made.
 *
 * An item is any value node:v8 serializes, except a conc primitive (its
 * state is shared memory, which only Thread / Process args can carry: it
 * would arrive as an empty object). The messages name the part that is
 * refused (`item.config.fn is a function ...`).
 */
import { types } from 'node:util';
import v8 from 'node:v8';
import { shareTag } from './share.js';

function describe(value: unknown): string | undefined {
  if (typeof value === 'function') {
    return `is a function (${value.name || 'anonymous'}); functions cannot be put in a queue`;
  }
  if (typeof value === 'symbol') return `is a symbol (${String(value)}); symbols cannot be put in a queue`;
  return undefined;
}

/** The path and reason of the first part of `value` node:v8 refuses to serialize. */
function findBad(value: unknown, path: string, seen: Set<object>): string | undefined {
  const direct = describe(value);
  if (direct) return `${path} ${direct}`;
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
  seen.add(value);
  try {
    v8.serialize(value);
    return undefined;
  } catch (error) {
    let children: [string, unknown][] = [];
    if (Array.isArray(value)) children = value.map((v, i) => [`${path}[${i}]`, v]);
    else if (value instanceof Map) {
      for (const [k, v] of value) children.push([`${path} (a Map key)`, k], [`${path}.get(${String(k)})`, v]);
    } else if (value instanceof Set) {
      for (const v of value) children.push([`${path} (a Set entry)`, v]);
    } else if (!types.isProxy(value)) {
      children = Object.keys(value).map((k) => [`${path}.${k}`, (value as Record<string, unknown>)[k]]);
    }
    for (const [p, v] of children) {
      const found = findBad(v, p, seen);
      if (found) return found;
    }
    return `${path} cannot be cloned (${(error as Error).message})`;
  }
}

/** The path of a conc primitive inside arrays, plain objects, Maps and Sets, if any. */
function findPrimitive(value: unknown, path: string, depth: number, seen: Set<object> | null): string | undefined {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return undefined;
  const tag = shareTag(value);
  if (tag !== undefined) return `${path} is a conc ${tag.replace(/^conc\./, '')}, which`;
  if (depth > 0) {
    if (seen === null) seen = new Set();
    if (seen.has(value) || depth > 100) return undefined;
    seen.add(value);
  }
  let found: string | undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && !found; i++) found = findPrimitive(value[i], `${path}[${i}]`, depth + 1, seen);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      found =
        findPrimitive(k, `${path} (a Map key)`, depth + 1, seen) ??
        findPrimitive(v, `${path}.get(${String(k)})`, depth + 1, seen);
      if (found) break;
    }
  } else if (value instanceof Set) {
    for (const v of value) if ((found = findPrimitive(v, `${path} (a Set entry)`, depth + 1, seen))) break;
  } else if (!types.isProxy(value)) {
    for (const k of Object.keys(value)) {
      if ((found = findPrimitive((value as Record<string, unknown>)[k], `${path}.${k}`, depth + 1, seen))) break;
    }
  }
  return found;
}

/**
 * If `value` is or holds a conc primitive: the message of the DataCloneError
 * `who` (as `Queue.put`) throws for it. Else undefined.
 */
export function primitiveItemMessage(value: unknown, who: string): string | undefined {
  const primitive = findPrimitive(value, 'item', 0, null);
  if (!primitive) return undefined;
  return `${who}: ${primitive} cannot be put in a queue (its shared memory cannot be copied); pass it to the thread in args; nothing was enqueued`;
}

/**
 * The message of the DataCloneError `who` throws for an item node:v8 cannot
 * serialize (`cause`: the error it threw, if known), naming the part it refuses.
 */
export function uncloneableItemMessage(value: unknown, who: string, cause?: Error): string {
  const where = findBad(value, 'item', new Set()) ?? `item cannot be cloned (${cause?.message ?? 'unknown reason'})`;
  return `${who}: ${where}; nothing was enqueued`;
}
