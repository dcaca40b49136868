import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { allocateLocalWords, allocateWords, describeWords, memoryBackend, wordsView } from '@conc/core';

// Run on both backends (CI runs core's and process's suites with CONC_SHM=0 too).
const shm = memoryBackend().name === 'shm';
/** Over memory shared with threads: a SharedArrayBuffer, or (shm) the arena, described by arena offset. */
function isShared(w: Int32Array): boolean {
  return shm ? describeWords(w).arena !== undefined : w.buffer instanceof SharedArrayBuffer;
}

describe('allocateWords', () => {
  it('returns zeroed Int32 views of the requested length over shared memory', () => {
    for (const n of [1, 3, 16, 17, 100]) {
      const w = allocateWords(n);
      expect(w).toBeInstanceOf(Int32Array);
      expect(w.length).toBe(n);
      expect(isShared(w)).toBe(true);
      expect(Array.from(w).every((x) => x === 0)).toBe(true);
    }
  });

  it('starts every allocation on its own 64-byte cache line', () => {
    const views = Array.from({ length: 50 }, (_, i) => allocateWords((i % 5) + 1));
    for (const v of views) expect(v.byteOffset % 64).toBe(0);
    // no two allocations in the same buffer share a cache line
    const byBuffer = new Map<ArrayBufferLike, Int32Array[]>();
    for (const v of views) byBuffer.set(v.buffer, [...(byBuffer.get(v.buffer) ?? []), v]);
    for (const list of byBuffer.values()) {
      const lines = list.map((v) => Math.floor(v.byteOffset / 64));
      expect(new Set(lines).size).toBe(lines.length);
    }
  });

  it('gives distinct, non-overlapping memory to each allocation', () => {
    const views = Array.from({ length: 200 }, () => allocateWords(3));
    views.forEach((v, i) => v.fill(i + 1));
    views.forEach((v, i) => expect(Array.from(v)).toEqual([i + 1, i + 1, i + 1]));
    // ranges in the same buffer are disjoint
    for (let i = 0; i < views.length; i++) {
      for (let j = i + 1; j < views.length; j++) {
        const a = views[i];
        const b = views[j];
        if (a.buffer !== b.buffer) continue;
        const disjoint = a.byteOffset + a.byteLength <= b.byteOffset || b.byteOffset + b.byteLength <= a.byteOffset;
        expect(disjoint).toBe(true);
      }
    }
  });

  it('keeps handing out zeroed memory across slab boundaries (64 KiB slabs)', () => {
    // 16 words = one cache line each; 2 000 of them span more than one slab
    const views = Array.from({ length: 2_000 }, () => allocateWords(16));
    // threads: more than one SharedArrayBuffer; shm: one arena, offsets spanning more than a slab
    if (shm) expect(views[1999]!.byteOffset - views[0]!.byteOffset).toBeGreaterThan(64 * 1024);
    else expect(new Set(views.map((v) => v.buffer)).size).toBeGreaterThan(1);
    for (const v of views) {
      expect(v.byteOffset % 64).toBe(0);
      expect(v.every((x) => x === 0)).toBe(true);
      v.fill(-1);
    }
  });

  it('gives a large allocation a buffer of its own', () => {
    const big = allocateWords(10_000);
    expect(big.length).toBe(10_000);
    expect(big.every((x) => x === 0)).toBe(true);
    const small = allocateWords(1);
    if (shm) {
      // one arena: the big one is a range of its own, outside the current slab
      const disjoint = small.byteOffset + 4 <= big.byteOffset || big.byteOffset + big.byteLength <= small.byteOffset;
      expect(disjoint).toBe(true);
    } else {
      expect(big.byteOffset).toBe(0);
      expect(small.buffer).not.toBe(big.buffer);
    }
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('throws RangeError for %s words', (n) => {
    expect(() => allocateWords(n)).toThrow(RangeError);
  });
});

describe('describeWords / wordsView', () => {
  it('rebuild a view over the same memory', () => {
    const w = allocateWords(4);
    const d = describeWords(w);
    if (shm) expect(d.arena?.pid).toBe(process.pid);
    else expect(d.buffer).toBe(w.buffer);
    expect(d.byteOffset).toBe(w.byteOffset);
    expect(d.length).toBe(4);
    const v = wordsView(d);
    v[2] = 42;
    expect(w[2]).toBe(42);
  });

  it('refuse a view that is not over a SharedArrayBuffer', () => {
    expect(() => describeWords(new Int32Array(4))).toThrow(TypeError);
  });

  it('carry the words into another thread, which sees and changes the same memory', async () => {
    // thread-only words: a plain worker (no conc) rebuilds them from the SharedArrayBuffer
    const w = allocateLocalWords(2);
    w[0] = 5;
    const seen = await new Promise<number>((resolve, reject) => {
      const worker = new Worker(
        `const { workerData, parentPort } = require('node:worker_threads');
         const v = new Int32Array(workerData.buffer, workerData.byteOffset, workerData.length);
         const before = Atomics.load(v, 0);
         Atomics.store(v, 1, 99);
         parentPort.postMessage(before);`,
        { eval: true, workerData: describeWords(w) },
      );
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(seen).toBe(5);
    expect(Atomics.load(w, 1)).toBe(99);
  }, 10_000);
});
