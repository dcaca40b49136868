/**
 * Shared memory for primitives.
 *
 * A primitive's state is a few Int32 words. Allocating a SharedArrayBuffer for
 * each one is slow and wasteful (100 k locks would be 100 k buffers), so words
 * are carved out of 64 KiB slabs. Every allocation starts on its own 64-byte
 * cache line, so two busy primitives never false-share a line.
 *
 * Slots are never reused: a slab is freed by the garbage collector once no
 * primitive in any thread still holds a view on it.
 */

const SLAB_BYTES = 64 * 1024;
const LINE_BYTES = 64;

let slab: SharedArrayBuffer | null = null;
let used = SLAB_BYTES;

/** Where a primitive's words live: enough to rebuild the view in another thread. */
export interface SharedWords {
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

/**
 * Allocate `words` zeroed Int32 words of shared memory (at least one cache line).
 * Allocations larger than a slab get a buffer of their own.
 */
export function allocateWords(words: number): Int32Array {
  if (!Number.isInteger(words) || words <= 0) {
    throw new RangeError(`allocateWords: words must be a positive integer, got ${words}`);
  }
  const bytes = Math.ceil((words * 4) / LINE_BYTES) * LINE_BYTES;
  if (bytes > SLAB_BYTES / 4) {
    return new Int32Array(new SharedArrayBuffer(bytes), 0, words);
  }
  if (slab === null || used + bytes > SLAB_BYTES) {
    slab = new SharedArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const view = new Int32Array(slab, used, words);
  used += bytes;
  return view;
}

/** Describe a view so it can be rebuilt in another thread by {@link wordsView}. */
export function describeWords(view: Int32Array): SharedWords {
  if (!(view.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError('describeWords: the view is not over a SharedArrayBuffer');
  }
  return { buffer: view.buffer, byteOffset: view.byteOffset, length: view.length };
}

/** Rebuild the Int32 view described by {@link describeWords}. */
export function wordsView(words: SharedWords): Int32Array {
  return new Int32Array(words.buffer, words.byteOffset, words.length);
}
