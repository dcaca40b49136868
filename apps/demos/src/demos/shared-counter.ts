// N processes add to one shared counter under one Lock, as Python's
//
//   counter = multiprocessing.Value('i', 0, lock=False); lock = multiprocessing.Lock()
//   def work(counter, lock, n):
//       for _ in range(n):
//           with lock: counter.value += 1
//
// On shared memory (@conc/shm loaded) the children map the parent's memory:
// `lock.acquireSync()` is a compare-and-swap on the same word in every
// process, and the total is exact because of the lock alone (the counter's
// `+=` is a plain read and write). On the fallback (no native module,
// CONC_SHM=0) every call is a round trip to the parent's broker, so the demo
// does fewer increments there and says so.
//
// The counter is a tiny primitive of this file (conc's Value comes with
// @conc/value): any class registered with core's registerShareable crosses
// into threads and processes the same way.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import {
  allocateWords,
  describeWords,
  memoryBackend,
  registerShareable,
  type SharedWords,
  wordsView,
} from '@conc/core';
import { Barrier } from '@conc/barrier';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';

/** An Int32 in shared memory, NOT atomic on its own: guard it with a Lock. */
export class Counter {
  declare readonly words: Int32Array;
  constructor() {
    Object.defineProperty(this, 'words', { value: allocateWords(1) });
  }
  static revive(data: { words: SharedWords }): Counter {
    const c = Object.create(Counter.prototype) as Counter;
    Object.defineProperty(c, 'words', { value: wordsView(data.words) });
    return c;
  }
  get value(): number {
    return this.words[0]!;
  }
  /** A plain read-modify-write: exact only under a lock. */
  add(n: number): void {
    this.words[0] = this.words[0]! + n;
  }
}
registerShareable(Counter, {
  tag: 'demos.Counter',
  module: import.meta.url,
  share: (c) => ({ words: describeWords(c.words) }),
  revive: (data) => Counter.revive(data as { words: SharedWords }),
  process: { methods: ['add'], getters: ['value'] },
});

/** The child's work: n increments, each under the lock, between two barriers (the parent times that span). */
export function work(counter: Counter, lock: Lock, n: number, barrier: Barrier): void {
  barrier.waitSync();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    counter.add(1);
    lock.release();
  }
  barrier.waitSync();
}

const PYTHON = `
import multiprocessing as mp, sys, time
def work(counter, lock, n, barrier):
    barrier.wait()
    for _ in range(n):
        with lock:
            counter.value += 1
    barrier.wait()
if __name__ == '__main__':
    procs, n = int(sys.argv[1]), int(sys.argv[2])
    counter, lock, barrier = mp.Value('i', 0, lock=False), mp.Lock(), mp.Barrier(procs + 1)
    ps = [mp.Process(target=work, args=(counter, lock, n, barrier)) for _ in range(procs)]
    for p in ps: p.start()
    barrier.wait()
    t = time.perf_counter()
    barrier.wait()
    seconds = time.perf_counter() - t
    for p in ps: p.join()
    print(counter.value, seconds)
`;

/** Python's time for the same work, or why it was not run. */
function python(procs: number, n: number): { total: number; seconds: number } | string {
  const r = spawnSync('python3', ['-c', PYTHON, String(procs), String(n)], { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) return `python3 not run (${r.error?.message ?? r.stderr.trim().split('\n').pop()})`;
  const [total, seconds] = r.stdout.trim().split(' ').map(Number);
  return { total: total!, seconds: seconds! };
}

/** 11.73 M increments/s, 1.2 k increments/s. */
function perSecond(rate: number): string {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M increments/s` : `${(rate / 1e3).toFixed(1)} k increments/s`;
}

export async function main(): Promise<void> {
  const { name, reason } = memoryBackend();
  const procs = Math.max(2, Math.min(4, cpus().length));
  const n = name === 'shm' ? 1_000_000 : 2_000;
  console.log(`memory backend: ${name} (${reason})`);
  if (name !== 'shm') console.log(`the fallback: every call is a round trip to the broker, so ${n} increments each`);
  const counter = new Counter();
  const lock = new Lock();
  const target = { module: import.meta.url, export: 'work' };
  const barrier = new Barrier(procs + 1);
  const children = Array.from({ length: procs }, () =>
    new Process({ target, args: [counter, lock, n, barrier] }).start(),
  );
  await barrier.wait(); // every child has started
  const started = performance.now();
  await barrier.wait(); // every child is done
  const seconds = (performance.now() - started) / 1000;
  for (const p of children) await p.join();
  const rate = (procs * n) / seconds;
  console.log(`${procs} processes x ${n} increments under one Lock: total ${counter.value} (expected ${procs * n})`);
  console.log(`conc:   ${perSecond(rate)} (${seconds.toFixed(2)} s, from all started to all done)`);
  const py = python(procs, n);
  if (typeof py === 'string') console.log(py);
  else {
    const pyRate = (procs * n) / py.seconds;
    console.log(
      `Python: ${perSecond(pyRate)} (mp.Lock + Value, the same span, total ${py.total}); conc is ${(rate / pyRate).toFixed(1)}x`,
    );
  }
  if (counter.value !== procs * n) process.exitCode = 1;
}
