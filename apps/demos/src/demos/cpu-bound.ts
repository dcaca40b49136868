// The document's "when to use threads, when to use processes", measured.
//
// CPU-bound: count the primes below LIMIT on the main thread, in N threads
// and in N processes. Unlike Python's, Node's worker threads have no GIL:
// each runs JavaScript on its own core, so threads speed up CPU-bound work
// as much as processes do, and start faster. I/O-bound: waiting does not need
// a core at all, so async code on one thread overlaps the waits as well as
// threads do.
import { availableParallelism } from 'node:os';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { Thread, sleep } from '@conc/thread';

const LIMIT = 10_000_000;
const STEP = 100_000;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Count primes in the blocks of STEP numbers `part`, `part + parts`, ... (interleaved,
 * so every worker gets as many big numbers as small ones); tick after each block.
 */
function countRange(part: number, parts: number, tick: () => void): number {
  let count = 0;
  const hi = LIMIT;
  for (let a = part * STEP; a < hi; a += parts * STEP) {
    const b = Math.min(a + STEP, hi);
    for (let n = a; n < b; n++) if (isPrime(n)) count++;
    tick();
  }
  return count;
}

export function threadPart(lo: number, hi: number, progress: Int32Array): number {
  return countRange(lo, hi, () => Atomics.add(progress, 0, 1));
}

export async function processPart(
  lo: number,
  hi: number,
  progress: Queue<number>,
  results: Queue<number>,
): Promise<void> {
  const count = countRange(lo, hi, () => progress.putNowait(1));
  await results.put(count);
}

const TOTAL_STEPS = Math.ceil(LIMIT / STEP);

function bar(label: string, done: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.round((done / TOTAL_STEPS) * width);
  process.stderr.write(
    `\r  ${label.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${TOTAL_STEPS}`,
  );
  if (done >= TOTAL_STEPS) process.stderr.write('\r\x1b[K');
}

function ranges(n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => [i, n] as [number, number]);
}

export async function main(): Promise<void> {
  const n = Math.max(2, Math.min(4, availableParallelism()));
  const self = import.meta.url;
  console.log(
    `CPU-bound: count the primes below ${LIMIT.toLocaleString('en')} (${n} threads / processes, ${availableParallelism()} cores)`,
  );

  let done = 0;
  let t = performance.now();
  const single = countRange(0, 1, () => bar('main', ++done));
  const tMain = performance.now() - t;

  const progress = new Int32Array(new SharedArrayBuffer(4));
  t = performance.now();
  const threads = ranges(n).map(([lo, hi]) =>
    new Thread({ target: { module: self, export: 'threadPart' }, args: [lo, hi, progress] }).start(),
  );
  const poll = setInterval(() => bar('threads', Atomics.load(progress, 0)), 100);
  let viaThreads = 0;
  for (const th of threads) {
    await th.join();
    viaThreads += th.result as number;
  }
  clearInterval(poll);
  bar('threads', TOTAL_STEPS);
  const tThreads = performance.now() - t;

  const ticks = new Queue<number>();
  const results = new Queue<number>();
  t = performance.now();
  const procs = ranges(n).map(([lo, hi]) =>
    new Process({ target: { module: self, export: 'processPart' }, args: [lo, hi, ticks, results] }).start(),
  );
  let pdone = 0;
  const ppoll = setInterval(() => {
    while (!ticks.empty()) pdone += ticks.getNowait();
    bar('processes', pdone);
  }, 100);
  for (const p of procs) await p.join();
  clearInterval(ppoll);
  bar('processes', TOTAL_STEPS);
  let viaProcesses = 0;
  for (let i = 0; i < procs.length; i++) viaProcesses += await results.get();
  const tProcs = performance.now() - t;

  if (single !== viaThreads || single !== viaProcesses) throw new Error('the three counts differ');
  console.log(`Primes found: ${single}`);
  const row = (what: string, ms: number) =>
    console.log(
      `| ${what.padEnd(22)} | ${(ms / 1000).toFixed(2).padStart(7)} s | ${(tMain / ms).toFixed(2).padStart(6)}x |`,
    );
  console.log('| way                    |    time  | speed-up |');
  console.log('|------------------------|----------|----------|');
  row('main thread', tMain);
  row(`${n} threads`, tThreads);
  row(`${n} processes`, tProcs);
  console.log(
    "Node's worker threads, unlike Python's threads, have no GIL: each runs JavaScript on its own core, so for CPU-bound work threads scale like processes (and start faster).",
  );

  console.log('I/O-bound: 8 waits of 200 ms each (a stand-in for network or disk)');
  t = performance.now();
  for (let i = 0; i < 8; i++) sleep(200);
  const tSeq = performance.now() - t;
  t = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => new Promise((r) => setTimeout(r, 200))));
  const tAsync = performance.now() - t;
  t = performance.now();
  const waiters = Array.from({ length: 8 }, () => new Thread({ target: { module: self, export: 'ioPart' } }).start());
  for (const w of waiters) await w.join();
  const tIoThreads = performance.now() - t;
  console.log('| way                    |    time  | speed-up |');
  console.log('|------------------------|----------|----------|');
  const io = (what: string, ms: number) =>
    console.log(
      `| ${what.padEnd(22)} | ${(ms / 1000).toFixed(2).padStart(7)} s | ${(tSeq / ms).toFixed(2).padStart(6)}x |`,
    );
  io('one after another', tSeq);
  io('async, one thread', tAsync);
  io('8 threads', tIoThreads);
  console.log(
    'Waiting needs no core: async code on one thread overlaps I/O as well as threads do, without their start-up cost.',
  );
}

export function ioPart(): void {
  sleep(200);
}
