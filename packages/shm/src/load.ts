// Finding, loading and self-testing the native binary, once per thread at import.
//
// The binary is prebuilds/<platform>-<arch>/conc_shm.node beside dist/ (the build
// copies it there from node-gyp's build/Release; the package tarball carries it).
// It is loaded only if: CONC_SHM is not '0', the OS is Linux, the file exists, it
// loads, and a self-test passes: one region mapped twice (the second mapping from
// the fd, as another process would), an Atomics.add and a compareExchange through
// one mapping seen through the other, a wake with no waiter waking 0, a wait on a
// changed word answering 'not-equal' and a zero-timeout wait 'timed-out'.
// Otherwise `reason` says which step failed, and the API throws with it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the addon exports (src/native/*.cc). */
export interface Native {
  create(size: number): NativeRegion;
  map(fd: number, size?: number): NativeRegion;
  wait(array: Int32Array, index: number, expected: number, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out';
  wake(array: Int32Array, index: number, count?: number): number;
  waitAsync(
    array: Int32Array,
    index: number,
    expected: number,
    timeoutMs?: number,
  ): 'not-equal' | 'timed-out' | [number, Promise<'ok' | 'timed-out' | 'cancelled'>];
  cancel(id: number): boolean;
  close(fd: number): void;
  pendingCount(): number;
  sharedArrayBuffer: boolean;
}

export interface NativeRegion {
  buffer: SharedArrayBuffer | ArrayBuffer;
  fd: number;
  size: number;
  shared: boolean;
}

const root = fileURLToPath(new URL('..', import.meta.url));
/** Where this platform's binary is looked for. */
export const binaryPath = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'conc_shm.node');
/** Written by the build when it skipped the native build (scripts/build-native.mjs). */
const skippedNote = join(root, 'prebuilds', 'SKIPPED');

function selfTest(native: Native): string {
  const a = native.create(4096);
  try {
    const b = native.map(a.fd, 4096);
    const ia = new Int32Array(a.buffer);
    const ib = new Int32Array(b.buffer);
    Atomics.add(ia, 1, 5);
    if (Atomics.load(ib, 1) !== 5) return 'an Atomics.add through one mapping was not seen through the other';
    if (Atomics.compareExchange(ib, 1, 5, 7) !== 5 || Atomics.load(ia, 1) !== 7)
      return 'an Atomics.compareExchange through one mapping was not seen through the other';
    const woke = native.wake(ia, 1, 1);
    if (woke !== 0) return `a futex wake with no waiter woke ${woke}`;
    if (native.wait(ib, 1, 0, 0) !== 'not-equal') return 'a futex wait on a changed word did not answer not-equal';
    if (native.wait(ib, 1, 7, 0) !== 'timed-out') return 'a zero-timeout futex wait did not time out';
    return '';
  } finally {
    native.close(a.fd);
  }
}

function load(): { native: Native | null; reason: string } {
  if (process.env.CONC_SHM === '0') return { native: null, reason: 'CONC_SHM=0 is set in the environment' };
  if (process.platform !== 'linux')
    return {
      native: null,
      reason: `shared memory and the futex are implemented for Linux only, not ${process.platform}`,
    };
  if (!existsSync(binaryPath)) {
    let why = `no native binary at ${binaryPath}`;
    try {
      why += `: ${readFileSync(skippedNote, 'utf8').trim()}`;
    } catch {
      why += ` (none ships for ${process.platform}-${process.arch}, and none was built)`;
    }
    return { native: null, reason: why };
  }
  let native: Native;
  try {
    native = createRequire(import.meta.url)(binaryPath) as Native;
  } catch (e) {
    return { native: null, reason: `the native binary ${binaryPath} failed to load: ${(e as Error).message}` };
  }
  try {
    const failed = selfTest(native);
    if (failed) return { native: null, reason: `self-test failed: ${failed}` };
  } catch (e) {
    return { native: null, reason: `self-test failed: ${(e as Error).message}` };
  }
  return { native, reason: '' };
}

export const { native, reason } = load();
