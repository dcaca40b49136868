/**
 * Shared memory for primitives.
 *
 * A primitive's state is a few Int32 words. Allocating a buffer for each one
 * is slow and wasteful (100 k locks would be 100 k buffers), so words are
 * carved out of 64 KiB slabs. Every allocation starts on its own 64-byte
 * cache line, so two busy primitives never false-share a line.
 *
 * Where the slabs come from is the memory backend's choice (backend.ts):
 *   - 'shm': out of the arena (arena.ts), memory every process of the tree
 *     maps; a primitive's words are then named by their byte offset in it,
 *     and a thread or a child process rebuilds the view over its own mapping.
 *     Arena memory is never reused or freed while the tree lives (a large
 *     allocation, over a quarter slab, gets a region of its own instead,
 *     freed by the garbage collector like a SharedArrayBuffer); a full
 *     arena is a RangeError at the allocation (a primitive's constructor
 *     allocates before anything else, so nothing is half-made).
 *   - 'threads': SharedArrayBuffers, shared with
 *     threads by postMessage and freed by the garbage collector once no
 *     thread holds a view on them. Such words cannot be mapped by another
 *     process; @conc/process then serves them from its broker.
 */
import { type ArenaRef, REGION_DATA, arena, arenaFor, arenaOf, arenaRef, createRegionFor, take } from './arena.js';

const SLAB_BYTES = 64 * 1024;
const LINE_BYTES = 64;

let slab: ArrayBuffer | SharedArrayBuffer | null = null;
/** Byte offset of the current slab in its buffer (0 for a SharedArrayBuffer slab). */
let slabStart = 0;
let used = SLAB_BYTES;

/**
 * Where a primitive's words live: enough to rebuild the view in another
 * thread (and, for arena words, in another process). Exactly one of `buffer`
 * (a thread-only SharedArrayBuffer) and `arena` (where to map the arena
 * from) is present.
 */
export interface SharedWords {
  buffer?: SharedArrayBuffer;
  arena?: ArenaRef;
  byteOffset: number;
  length: number;
}

function newSlab(bytes: number): { buffer: ArrayBuffer | SharedArrayBuffer; start: number } {
  const a = arena();
  if (a === null) return { buffer: new SharedArrayBuffer(bytes), start: 0 };
  const at = take(a, bytes);
  if (at < 0) {
    throw new RangeError(
      `conc: the shared-memory arena is full (${a.size / 2 ** 20} MiB, shared by every process of the tree; words are never reused): set CONC_SHM_SIZE (MiB) higher before the first conc process starts, or CONC_SHM=0 for thread-only memory`,
    );
  }
  return { buffer: a.buffer, start: at };
}

/**
 * Allocate `words` zeroed Int32 words of shared memory (at least one cache line).
 * Allocations larger than a quarter slab get memory of their own.
 */
export function allocateWords(words: number): Int32Array {
  if (!Number.isInteger(words) || words <= 0) {
    throw new RangeError(`allocateWords: words must be a positive integer, got ${words}`);
  }
  const bytes = Math.ceil((words * 4) / LINE_BYTES) * LINE_BYTES;
  if (bytes > SLAB_BYTES / 4) {
    // Large (a Queue's ring): memory of its own, freed when no view holds it.
    if (arena() !== null) return new Int32Array(createRegionFor(bytes).buffer, REGION_DATA, words);
    return new Int32Array(new SharedArrayBuffer(bytes), 0, words);
  }
  if (slab === null || used + bytes > SLAB_BYTES) {
    const s = newSlab(SLAB_BYTES);
    slab = s.buffer;
    slabStart = s.start;
    used = 0;
  }
  const view = new Int32Array(slab, slabStart + used, words);
  used += bytes;
  return view;
}

let localSlab: SharedArrayBuffer | null = null;
let localUsed = SLAB_BYTES;

/**
 * Allocate `words` zeroed Int32 words of thread-only shared memory: always a
 * SharedArrayBuffer, never the arena, whatever the backend. For words that
 * never leave the process and that a plain worker (one that does not load
 * conc) must read, such as a Thread's status word read by the reaper
 * (liveness.ts): posting an arena buffer to such a worker would copy it.
 */
export function allocateLocalWords(words: number): Int32Array {
  if (!Number.isInteger(words) || words <= 0) {
    throw new RangeError(`allocateLocalWords: words must be a positive integer, got ${words}`);
  }
  const bytes = Math.ceil((words * 4) / LINE_BYTES) * LINE_BYTES;
  if (bytes > SLAB_BYTES / 4) return new Int32Array(new SharedArrayBuffer(bytes), 0, words);
  if (localSlab === null || localUsed + bytes > SLAB_BYTES) {
    localSlab = new SharedArrayBuffer(SLAB_BYTES);
    localUsed = 0;
  }
  const view = new Int32Array(localSlab, localUsed, words);
  localUsed += bytes;
  return view;
}

/** Describe a view so it can be rebuilt in another thread (or process, for arena words) by {@link wordsView}. */
export function describeWords(view: Int32Array): SharedWords {
  const a = arenaOf(view.buffer);
  if (a !== null) return { arena: arenaRef(a), byteOffset: view.byteOffset, length: view.length };
  if (!(view.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError('describeWords: the view is not over shared memory');
  }
  return { buffer: view.buffer, byteOffset: view.byteOffset, length: view.length };
}

/** Whether the words described can be mapped by another process (they are arena words). */
export function crossesProcesses(words: SharedWords): boolean {
  return words.arena !== undefined;
}

/** Rebuild the Int32 view described by {@link describeWords}. */
export function wordsView(words: SharedWords): Int32Array {
  if (words.arena !== undefined) {
    const a = arenaFor(words.arena);
    if (a === null) {
      throw new Error(
        `conc: cannot map the shared memory of process ${words.arena.pid} (it has ended, or @conc/shm is not available here)`,
      );
    }
    return new Int32Array(a.buffer, words.byteOffset, words.length);
  }
  return new Int32Array(words.buffer!, words.byteOffset, words.length);
}
