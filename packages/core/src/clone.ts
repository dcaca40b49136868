/**
 * Why an item cannot be cloned into a queue: the DataCloneError every path
 * that refuses an item throws (a thread's put, in @conc/queue's record.ts; a
 * child process's put, in @conc/process), so a refusal reads the same
 * wherever the put was made. The wording (which part is refused, and why)
 * is items.ts's; this file turns it into the error.
 *
 * Two moments: before serializing, an item that is or holds something that
 * would not arrive as itself (a function, a symbol, a conc primitive: its
 * state is shared memory, which only Thread / Process args can carry) is
 * refused by {@link itemRefusal}; after node:v8 refused to serialize it,
 * {@link itemCloneError} names the part it refused.
 */
import { DataCloneError } from './errors.js';
import { primitiveItemMessage, uncloneableItemMessage } from './items.js';

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
