/**
 * The memory backend: which memory a primitive's words live in, and how a
 * thread parks on them. The one file of conc that talks to the native module
 * (@conc/shm); everything else asks this file, through memory.ts and wait.ts.
 *
 * Two backends, chosen once per process at load:
 *
 *   - 'shm': @conc/shm loaded and passed its self-test. Words are carved out
 *     of one arena (arena.ts) that every process of the tree maps, and a wait
 *     on them parks in the kernel futex (no private flag), which a wake from
 *     any process reaches. V8's Atomics.wait/notify keep their wait lists per
 *     process and would not be woken from another one (SHM-FACTS.md).
 *   - 'threads': no native module (another OS, no binary, a failed
 *     self-test, or CONC_SHM=0). Words are SharedArrayBuffers, waits are V8's
 *     Atomics.wait/waitAsync, and @conc/process serves primitives to child
 *     processes from a broker.
 *
 * Invariant: a word is always waited on and woken through the same
 * mechanism. `inArena(buffer)` decides, per call, by the buffer's identity:
 * words in an arena use the kernel futex, every other SharedArrayBuffer
 * (a thread-only buffer of the 'threads' backend, a table of liveness.ts)
 * uses V8's. Both sides of a word agree because they decide from the word's
 * buffer, never from the caller.
 */
import { createRequire } from 'node:module';

/** What @conc/shm exports (its README; the module is loaded at run time, only its types at build time). */
export type ShmModule = typeof import('@conc/shm');

/** The name of a memory backend: see the top of this file. */
export type BackendName = 'shm' | 'threads';

interface Loaded {
  shm: ShmModule | null;
  reason: string;
}

function loadShm(): Loaded | undefined {
  if (process.env.CONC_SHM === '0') return { shm: null, reason: 'CONC_SHM=0 is set' };
  let here: NodeRequire;
  try {
    here = createRequire(import.meta.url);
  } catch {
    // A copy of core bundled into a CJS entry (thread's worker, process's
    // child) has no module URL: it decides nothing, the real @conc/core the
    // user's modules import decides for the thread.
    return undefined;
  }
  let mod: ShmModule;
  try {
    mod = here('@conc/shm') as ShmModule;
  } catch (error) {
    return { shm: null, reason: `@conc/shm could not be loaded: ${(error as Error).message.split('\n')[0]}` };
  }
  if (!mod.available) return { shm: null, reason: mod.reason };
  return { shm: mod, reason: 'the native module loaded and passed its self-test' };
}

// Once per thread, on globalThis: every copy of core in a thread (ESM, CJS,
// the ones bundled into thread's and process's entries) must agree.
const loadedKey = Symbol.for('conc.shm.v1');

function loaded(): Loaded {
  const g = globalThis as any;
  if (g[loadedKey] === undefined) {
    const l = loadShm();
    if (l === undefined) return { shm: null, reason: 'not decided by a bundled copy of @conc/core' };
    g[loadedKey] = l;
  }
  return g[loadedKey];
}

/** The native module when the 'shm' backend is in use, else null. Decided at the first call in a thread. */
export function shmModule(): ShmModule | null {
  return loaded().shm;
}

/** The memory backend of this thread and why it was chosen: see the top of this file. */
export function memoryBackend(): { name: BackendName; reason: string } {
  const l = loaded();
  return { name: l.shm === null ? 'threads' : 'shm', reason: l.reason };
}
