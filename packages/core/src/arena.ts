/**
 * The arena: one region of memory shared by every process of a conc process
 * tree, out of which the 'shm' backend (backend.ts) carves every primitive's
 * words. Used only when @conc/shm loaded.
 *
 * Why one region and not one per slab: a child (or a thread of a child)
 * must be able to map any primitive it is handed, whenever it is handed it,
 * and a primitive made in a child must be passable back to the parent and
 * on to siblings. With one region per tree, a primitive is named by a byte
 * offset, every thread maps the region once, and no descriptor, fd or
 * mapping is ever needed per primitive. (A large allocation, a Queue's
 * ring, gets a region of its own with the same header, freed when no view
 * holds it: createRegionFor.) The region is a memfd (anonymous:
 * nothing is left in /dev/shm when anyone dies) of CONC_SHM_SIZE MiB
 * (default 256) address space; pages are only allocated when first written.
 *
 * Layout (Int32 words):
 *   [MAGIC]  'conc' once the header is written
 *   [KEY0], [KEY1]  a random 64-bit key naming this arena
 *   [NEXT]   the allocation cursor, in 64-byte lines (Atomics.add by anyone)
 *   [LINES]  the size in lines
 *   [TOKENS] the last thread token handed out (Atomics.add by anyone)
 *   from byte TABLE_BYTE: the token registry, TABLE_SLOTS x [token, pid]:
 *            which process a thread token belongs to (liveness.ts).
 *   from byte FIRST_BYTE: allocations.
 *
 * How a process finds the arena: CONC_SHM_ARENA = "pid:fd:size:key" in its
 * environment, written by whoever created or joined it. A worker thread of
 * the same process maps the fd directly; a child process opens
 * /proc/<pid>/fd/<fd> of its parent (which holds the fd open for its whole
 * life), checks it is a memfd of that size whose header carries the key,
 * maps it, and rewrites the variable with its own pid and fd for its own
 * children. A variable that does not check out (a stale one inherited by a
 * process conc did not start) is ignored: that process makes a new arena.
 * Anyone else of the same user can open /proc/<pid>/fd too, as they could
 * ptrace the process; other users cannot (DESIGN.md, "Security").
 *
 * Invariants:
 *   - Allocations never overlap and are never reused: NEXT only grows.
 *   - Memory is zero when handed out (a memfd's new pages are zero, and no
 *     offset is handed out twice).
 *   - Arena memory is never unmapped while the process lives (a view may be
 *     held anywhere), and the fd stays open so children can join.
 */
import { closeSync, fstatSync, openSync, readlinkSync } from 'node:fs';
import { shmModule } from './backend.js';

const LINE = 64;
const MAGIC = 0;
const KEY0 = 1;
const KEY1 = 2;
const NEXT = 3;
const LINES = 4;
const TOKENS = 5;
const MAGIC_VALUE = 0x636f6e63; // 'conc'
/** Where the token registry starts, and its size in slots. */
export const TABLE_BYTE = 4096;
export const TABLE_SLOTS = 8192;
const FIRST_BYTE = TABLE_BYTE + TABLE_SLOTS * 8;

/** One mapped arena in the calling thread. */
export interface Arena {
  buffer: ArrayBuffer | SharedArrayBuffer;
  header: Int32Array;
  /** This process's fd of the region (to pass on to children). */
  fd: number;
  size: number;
  key: string;
}

/** Where an arena can be mapped from: what a descriptor of arena words carries. */
export interface ArenaRef {
  key: string;
  pid: number;
  fd: number;
  size: number;
}

interface Slot {
  primary: Arena | null;
  /**
   * Every other region mapped in this thread: the large allocations' own
   * regions (made here or received) and arenas of other trees (rare), by
   * buffer and by key. Weak: a region no view holds any more is unmapped by
   * the garbage collector (the native finalizer) and its fd closed.
   */
  byBuffer: WeakMap<ArrayBuffer | SharedArrayBuffer, Arena>;
  byKey: Map<string, WeakRef<ArrayBuffer | SharedArrayBuffer>>;
  tried: boolean;
}

// Per thread, on globalThis: the ESM and CJS copies of core in one thread share it.
const slotKey = Symbol.for('conc.arena.v2');
const slot: Slot = ((globalThis as any)[slotKey] ??= {
  primary: null,
  byBuffer: new WeakMap(),
  byKey: new Map(),
  tried: false,
});

function sizeFromEnv(): number {
  const mib = Number(process.env.CONC_SHM_SIZE ?? 256);
  if (!Number.isInteger(mib) || mib < 1 || mib > 65536) {
    throw new RangeError(
      `CONC_SHM_SIZE must be a whole number of MiB between 1 and 65536, got ${process.env.CONC_SHM_SIZE}`,
    );
  }
  return mib * 1024 * 1024;
}

function keyString(h: Int32Array): string {
  return `${(h[KEY0]! >>> 0).toString(16)}${(h[KEY1]! >>> 0).toString(16).padStart(8, '0')}`;
}

function publish(a: Arena): void {
  process.env.CONC_SHM_ARENA = `${process.pid}:${a.fd}:${a.size}:${a.key}`;
}

function create(): Arena {
  const size = sizeFromEnv();
  const { buffer, fd } = shmModule()!.createRegion(size);
  const header = new Int32Array(buffer, 0, 16);
  header[KEY0] = (Math.random() * 2 ** 32) | 0;
  header[KEY1] = (Math.random() * 2 ** 32) | 0;
  header[LINES] = size / LINE;
  Atomics.store(header, NEXT, FIRST_BYTE / LINE);
  Atomics.store(header, MAGIC, MAGIC_VALUE);
  return { buffer, header, fd, size, key: keyString(header) };
}

/** Map the arena `ref` names, or null if it does not check out. */
function join(ref: ArenaRef): Arena | null {
  let fd = ref.fd;
  let opened = false;
  try {
    if (ref.pid !== process.pid) {
      // pid -1: this process, through a descriptor of our own
      fd = openSync(`/proc/${ref.pid === -1 ? 'self' : ref.pid}/fd/${ref.fd}`, 'r+');
      opened = true;
    }
    if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:')) throw new Error('not a memfd');
    if (fstatSync(fd).size !== ref.size) throw new Error('not the size named');
    const { buffer } = shmModule()!.mapRegion(fd, ref.size);
    const header = new Int32Array(buffer, 0, 16);
    if (Atomics.load(header, MAGIC) !== MAGIC_VALUE || keyString(header) !== ref.key) throw new Error('not the key');
    return { buffer, header, fd, size: ref.size, key: ref.key };
  } catch {
    if (opened) closeSync(fd);
    return null;
  }
}

function parseRef(text: string | undefined): ArenaRef | null {
  if (!text) return null;
  const m = /^(\d+):(\d+):(\d+):([0-9a-f]{1,16})$/.exec(text);
  if (!m) return null;
  return { pid: Number(m[1]), fd: Number(m[2]), size: Number(m[3]), key: m[4]! };
}

/** The calling thread's arena (joined from the environment or created), or null on the 'threads' backend. */
export function arena(): Arena | null {
  if (slot.primary !== null || slot.tried) return slot.primary;
  if (shmModule() === null) return null;
  slot.tried = true;
  const ref = parseRef(process.env.CONC_SHM_ARENA);
  const a = (ref && join(ref)) ?? create();
  slot.primary = a;
  publish(a);
  return a;
}

/** Whether `buffer` is arena memory of the calling thread (its waits then use the kernel futex). */
export function inArena(buffer: ArrayBufferLike): boolean {
  const p = slot.primary;
  if (p === null) return false;
  return p.buffer === buffer || slot.byBuffer.has(buffer as ArrayBuffer);
}

/**
 * Take `bytes` (rounded up to whole 64-byte lines) from the arena; returns
 * the byte offset, or -1 when the arena is full (the caller throws).
 */
export function take(a: Arena, bytes: number): number {
  const lines = Math.ceil(bytes / LINE);
  const limit = a.header[LINES]!;
  // A CAS loop, not an add: a request too big to fit must leave the cursor
  // where it was, so that smaller ones still fit.
  for (;;) {
    const start = Atomics.load(a.header, NEXT);
    if (start + lines > limit) return -1;
    if (Atomics.compareExchange(a.header, NEXT, start, start + lines) === start) return start * LINE;
  }
}

/** A new thread token, unique in the whole process tree (never 0, fits 30 bits). */
export function takeToken(a: Arena): number {
  return (Atomics.add(a.header, TOKENS, 1) % 0x3ffffffe) + 1;
}

/** Record in the registry that `token` is a thread of this process. */
export function registerToken(a: Arena, token: number): void {
  const k = ((token - 1) % TABLE_SLOTS) * 2;
  const t = new Int32Array(a.buffer, TABLE_BYTE, TABLE_SLOTS * 2);
  Atomics.store(t, k + 1, process.pid);
  Atomics.store(t, k, token);
}

/** The pid of the process whose thread `token` is, or 0 if the registry does not know it. */
export function tokenProcess(a: Arena, token: number): number {
  const k = ((token - 1) % TABLE_SLOTS) * 2;
  const t = new Int32Array(a.buffer, TABLE_BYTE, TABLE_SLOTS * 2);
  // pid is written before token (registerToken): read token, pid, token again.
  if (Atomics.load(t, k) !== token) return 0;
  const pid = Atomics.load(t, k + 1);
  return Atomics.load(t, k) === token ? pid : 0;
}

/** Where another thread or process can map `a` from. */
export function arenaRef(a: Arena): ArenaRef {
  return { key: a.key, pid: process.pid, fd: a.fd, size: a.size };
}

/** Closes the fd of a region once its buffer is gone (its mapping went with it). */
const closer = new FinalizationRegistry<{ fd: number; key: string }>(({ fd, key }) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
  if (slot.byKey.get(key)?.deref() === undefined) slot.byKey.delete(key);
});

function remember(a: Arena): Arena {
  slot.byBuffer.set(a.buffer, a);
  slot.byKey.set(a.key, new WeakRef(a.buffer));
  closer.register(a.buffer, { fd: a.fd, key: a.key });
  return a;
}

/**
 * A region of its own for a large allocation (a Queue's ring): `bytes` after
 * a 64-byte header that carries the magic and a key, so it is named and
 * joined like the arena, and freed (unmapped, fd closed) when no view holds
 * it. Throws a RangeError naming the size when the kernel refuses it.
 */
export function createRegionFor(bytes: number): Arena {
  const size = LINE + Math.ceil(bytes / LINE) * LINE;
  let region: { buffer: ArrayBuffer | SharedArrayBuffer; fd: number };
  try {
    region = shmModule()!.createRegion(size);
  } catch (error) {
    throw new RangeError(`conc: cannot make ${size} bytes of shared memory: ${(error as Error).message}`);
  }
  const header = new Int32Array(region.buffer, 0, 16);
  header[KEY0] = (Math.random() * 2 ** 32) | 0;
  header[KEY1] = (Math.random() * 2 ** 32) | 0;
  Atomics.store(header, MAGIC, MAGIC_VALUE);
  return remember({ buffer: region.buffer, header, fd: region.fd, size, key: keyString(header) });
}

/** Byte offset of a large allocation's words in its own region. */
export const REGION_DATA = LINE;

/** The arena or region named by `ref`: the calling thread's own, or one it maps now; null if it cannot be mapped. */
export function arenaFor(ref: ArenaRef): Arena | null {
  const own = arena();
  if (own !== null && own.key === ref.key) return own;
  const known = slot.byKey.get(ref.key)?.deref();
  if (known !== undefined) return slot.byBuffer.get(known) ?? null;
  if (shmModule() === null) return null;
  // Always through a descriptor of our own (reopened, even in the same
  // process): the one named may be closed when its buffer is collected.
  const a = join({ ...ref, pid: ref.pid === process.pid ? -1 : ref.pid });
  return a === null ? null : remember(a);
}

/** The arena or region that `buffer` belongs to in the calling thread, if any. */
export function arenaOf(buffer: ArrayBufferLike): Arena | null {
  const own = slot.primary;
  if (own !== null && own.buffer === buffer) return own;
  return slot.byBuffer.get(buffer as ArrayBuffer) ?? null;
}

/** Bytes of the calling thread's arena handed out so far, by every process of the tree (0 without one). */
export function arenaBytesInUse(): number {
  const a = slot.primary;
  if (a === null) return 0;
  return Atomics.load(a.header, NEXT) * LINE - FIRST_BYTE;
}
