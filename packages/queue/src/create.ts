/**
 * Making a queue's memory, and one thread's view of it: the constructor's
 * argument checks and allocation (the words of layout.ts, the ring, the shape
 * table), and the properties a Queue object carries in each thread (the
 * ring's views, its shape table as this thread knows it, the two sides).
 */
import { allocateWords } from '@conc/core';
import {
  CAPACITY,
  GET_LOCK,
  GET_SLEEPERS,
  GET_SLEEPY,
  HEADER_WORDS,
  KIND,
  KIND_JOINABLE,
  KIND_QUEUE,
  MAXSIZE,
  NOT_EMPTY,
  NOT_FULL,
  type Names,
  PUT_LOCK,
  PUT_SLEEPERS,
  PUT_SLEEPY,
  SHAPES,
} from './layout.js';
import { MAX_PAYLOAD, type Ring } from './record.js';
import { SHAPE_TABLE_BYTES, Shapes } from './shapes.js';
import { Side } from './side.js';

/** Options of `new Queue(maxsize, options)`. */
export interface QueueOptions {
  /**
   * Bytes of shared memory for the items (default 1 MiB, at most 256 MiB;
   * rounded up to a multiple of 4). An item takes 4 bytes (small integers,
   * booleans, null, undefined) to 4 + its serialized size; `put` waits while
   * the item does not fit, and throws RangeError if it never could.
   */
  byteCapacity?: number;
}

const DEFAULT_CAPACITY = 1 << 20;
const MIN_CAPACITY = 16;
const MAX_CAPACITY = MAX_PAYLOAD + 1; // 256 MiB

/**
 * Check `new Queue(maxsize, options)`'s arguments (`name`: 'Queue' or
 * 'JoinableQueue', for the messages) and allocate its words, config written.
 */
export function allocateQueue(name: string, maxsize: number, options: QueueOptions): Int32Array {
  if (typeof maxsize !== 'number') throw new TypeError(`${name}: maxsize must be a number, got ${typeof maxsize}`);
  if (!Number.isInteger(maxsize) || maxsize < 0 || maxsize > 0x7fffffff) {
    throw new RangeError(`${name}: maxsize must be an integer >= 0 (0 for no bound), got ${maxsize}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${name}: options must be an object like { byteCapacity }, got ${String(options)}`);
  }
  const requested = options.byteCapacity ?? DEFAULT_CAPACITY;
  if (
    typeof requested !== 'number' ||
    !Number.isInteger(requested) ||
    requested < MIN_CAPACITY ||
    requested > MAX_CAPACITY
  ) {
    throw new RangeError(
      `${name}: byteCapacity must be an integer from ${MIN_CAPACITY} to ${MAX_CAPACITY} (256 MiB), got ${String(requested)}`,
    );
  }
  const cap = (requested + 3) & ~3;
  const words = allocateWords(HEADER_WORDS + (cap + SHAPE_TABLE_BYTES) / 4);
  words[CAPACITY] = cap;
  words[MAXSIZE] = maxsize;
  words[KIND] = name === 'JoinableQueue' ? KIND_JOINABLE : KIND_QUEUE;
  return words;
}

/** The properties of a Queue object over `words` in this thread (see the declarations in queue.ts). */
export function queueProperties(words: Int32Array, names: Names): PropertyDescriptorMap {
  const cap = words[CAPACITY];
  const byteOffset = words.byteOffset + HEADER_WORDS * 4;
  const ring: Ring = {
    i32: new Int32Array(words.buffer, byteOffset, cap / 4),
    u8: new Uint8Array(words.buffer, byteOffset, cap),
    buf: Buffer.from(words.buffer, byteOffset, cap),
    cap,
    shapes: new Shapes(words, SHAPES, new Uint8Array(words.buffer, byteOffset + cap, SHAPE_TABLE_BYTES)),
  };
  return {
    words: { value: words },
    ring: { value: ring },
    maxsize: { value: words[MAXSIZE], enumerable: true },
    byteCapacity: { value: cap, enumerable: true },
    span: { value: 2 * cap },
    joinable: { value: words[KIND] === KIND_JOINABLE },
    names: { value: names },
    putters: { value: new Side(words, PUT_LOCK, PUT_SLEEPY, NOT_FULL, PUT_SLEEPERS) },
    getters: { value: new Side(words, GET_LOCK, GET_SLEEPY, NOT_EMPTY, GET_SLEEPERS) },
  };
}
