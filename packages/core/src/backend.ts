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

/** What @conc/shm exports (its README): the calls conc uses. */
export interface ShmModule {
  available: boolean;
  reason: string;
  createRegion(size: number): { buffer: ArrayBuffer | SharedArrayBuffer; fd: number };
  mapRegion(fd: number, size?: number): { buffer: ArrayBuffer | SharedArrayBuffer; fd: number };
  wait(view: Int32Array, index: number, value: number, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out';
  wake(view: Int32Array, index: number, count?: number): number;
  waitAsync(
    view: Int32Array,
    index: number,
    value: number,
    timeoutMs?: number,
  ):
    | { readonly async: false; readonly value: 'not-equal' | 'timed-out' }
    | { readonly async: true; readonly value: Promise<'ok' | 'timed-out' | 'cancelled'>; cancel(): boolean };
}

/** The name of a memory backend: see the top of this file. */
export type BackendName = 'shm' | 'threads';

function loadShm(): { shm: ShmModule | null; reason: string } {
  if (process.env.CONC_SHM === '0') return { shm: null, reason: 'CONC_SHM=0 is set' };
  let mod: ShmModule;
  try {
    mod = createRequire(import.meta.url)('@conc/shm') as ShmModule;
  } catch (error) {
    return { shm: null, reason: `@conc/shm could not be loaded: ${(error as Error).message.split('\n')[0]}` };
  }
  if (!mod.available) return { shm: null, reason: mod.reason };
  return { shm: mod, reason: mod.reason || 'the native module loaded and passed its self-test' };
}

const loaded = loadShm();

/** The native module when the 'shm' backend is in use, else null. */
export const shm: ShmModule | null = loaded.shm;

/** Which backend this process uses: 'shm' (memory shared with child processes) or 'threads'. */
export const backend: BackendName = shm === null ? 'threads' : 'shm';

/** Why this backend was chosen, in one sentence (for a user who asks; also CONC_DEBUG). */
export const backendReason: string = loaded.reason;
