/**
 * @conc/shm: memory that processes share (memfd + mmap) and the kernel futex on it,
 * the only native code in conc. See README.md for the API, the runtimes and the
 * fallback when no binary loads.
 * @packageDocumentation
 */
import { type Native, type NativeRegion, native, reason as loadReason } from './load';

/** Whether the native module loaded and passed its self-test; when false, every function below throws. */
export const available: boolean = native !== null;
/** Why `available` is false ('' when it is true). */
export const reason: string = loadReason;
/**
 * Whether regions are real SharedArrayBuffers (the runtime has
 * `node_api_create_external_sharedarraybuffer`: Node >= 22.23 / 24.21 as tried);
 * false: external ArrayBuffers, which postMessage copies, so each thread maps the fd itself.
 */
export const sharedArrayBuffer: boolean = native?.sharedArrayBuffer ?? false;

/** A mapping of a shared memory region. */
export interface Region {
  /** The mapped bytes: a SharedArrayBuffer where {@link sharedArrayBuffer}, else an external ArrayBuffer. */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** The region's file descriptor (a memfd), open until the caller closes it ({@link closeRegion}). */
  readonly fd: number;
  /** Its length in bytes. */
  readonly size: number;
  /** Whether `buffer` is a SharedArrayBuffer. */
  readonly shared: boolean;
}

/** The result of {@link waitAsync}: settled at once, or a promise and a way to cancel it. */
export type AsyncWait =
  | { readonly async: false; readonly value: 'not-equal' | 'timed-out' }
  | {
      readonly async: true;
      readonly value: Promise<'ok' | 'timed-out' | 'cancelled'>;
      /** Cancel the wait if still pending: its promise resolves 'cancelled' and this returns true; else false. */
      cancel(): boolean;
    };

/** Thrown by every function when {@link available} is false. */
export class ShmUnavailableError extends Error {
  readonly code = 'ERR_CONC_SHM_UNAVAILABLE';
  constructor() {
    super(`@conc/shm is not available: ${loadReason}`);
    this.name = 'ShmUnavailableError';
  }
}

function need(): Native {
  if (native === null) throw new ShmUnavailableError();
  return native;
}

const region = (r: NativeRegion): Region => Object.freeze({ ...r });

/** Create a region of `size` bytes (zeroed): a new memfd, mapped. Pass `fd` to a child (in its stdio) to share it. */
export function createRegion(size: number): Region {
  return region(need().create(size));
}

/** Map the region of descriptor `fd` (all of it, or its first `size` bytes): in a child, or in a worker thread. */
export function mapRegion(fd: number, size?: number): Region {
  return region(need().map(fd, size));
}

/**
 * Close a region's descriptor (give the region or its fd). Its mappings stay valid; the memory
 * goes away with the last mapping in any process. Another process or thread can no longer map
 * it from this fd. (`fs.closeSync` works too, but warns in a worker thread.)
 */
export function closeRegion(region: Region | number): void {
  need().close(typeof region === 'number' ? region : region.fd);
}

/**
 * Block this thread in the kernel futex while `array[index] === expected`, at most `timeoutMs`
 * (default: no limit). 'not-equal': the word differed; 'timed-out'; 'ok': woken (or a spurious
 * wakeup: re-check the word). Works across processes, unlike `Atomics.wait`.
 */
export function wait(
  array: Int32Array,
  index: number,
  expected: number,
  timeoutMs?: number,
): 'ok' | 'not-equal' | 'timed-out' {
  return need().wait(array, index, expected, timeoutMs);
}

/** Wake up to `count` (default: all) futex waiters on `array[index]`, in any process; returns how many woke. */
export function wake(array: Int32Array, index: number, count?: number): number {
  return need().wake(array, index, count);
}

/**
 * Wait like {@link wait} without blocking the event loop: one helper thread per process parks
 * in the kernel for every pending wait; the promise resolves on this thread. A pending wait
 * keeps the event loop alive (as a timer does). Change the word before waking: a pure wake
 * with the word unchanged can be missed while the helper is between two kernel waits.
 */
export function waitAsync(array: Int32Array, index: number, expected: number, timeoutMs?: number): AsyncWait {
  const n = need();
  const r = n.waitAsync(array, index, expected, timeoutMs);
  if (typeof r === 'string') return { async: false, value: r };
  const [id, value] = r;
  return { async: true, value, cancel: () => n.cancel(id) };
}

/** Async waits of this process still pending in the helper thread (0 when none; for tests and debugging). */
export function pendingAsyncWaits(): number {
  return need().pendingCount();
}
