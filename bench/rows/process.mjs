// @conc/process rows.
//
// The document's producer/consumer: 100 000 ints from a producer process to
// a consumer process through a Queue the parent owns, vs Python's
// multiprocessing.Queue. Both sides are measured the same way: start both
// processes, wait until each has checked in (a `ready` queue), then time from
// releasing them (a `go` Event) until the consumer has reported its count (a
// `done` queue). A second row times the whole program (starting both
// processes included, to both joins), again the same way on both sides.
//
// Process start to first line of the target vs a raw child_process.fork of
// a script doing the same first line (runs interleaved, so drifting load on
// a shared machine hits both alike): a module target (ESM, imported in the
// child) and a function target.
//
// On shared memory (@conc/shm): an uncontended Lock in a child vs the same
// call in the parent and Python's `with lock:`; 2 processes incrementing a
// counter under one Lock vs Python's mp.Lock + Value and a raw futex mutex
// (rows/shm.mjs); an Event ping-pong parent <-> child vs Python's mp.Event.
// On the fallback (the broker) the same rows run fewer calls.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Barrier } from '@conc/barrier';
import { memoryBackend } from '@conc/core';
import { Event } from '@conc/event';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { median, python, repeat, report } from '../harness.mjs';
import { Counter } from './counter.mjs';
import { mutexRun } from './shm.mjs';

const workers = new URL('./process.workers.mjs', import.meta.url).href;
const N = 100_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

/** Items/s: [transfer only, whole program]. */
async function queueRun() {
  const q = new Queue();
  const ready = new Queue();
  const done = new Queue();
  const go = new Event();
  const t0 = performance.now();
  const c = new Process({ target: { module: workers, export: 'consume' }, args: [q, ready, go, done] }).start();
  const p = new Process({ target: { module: workers, export: 'produce' }, args: [q, ready, go, N] }).start();
  await ready.get({ timeout: 60_000 });
  await ready.get({ timeout: 60_000 });
  const t = performance.now();
  go.set();
  const count = await done.get({ timeout: 60_000 });
  const transfer = performance.now() - t;
  if (!(await p.join({ timeout: 60_000 })) || !(await c.join({ timeout: 60_000 })))
    throw new Error('a bench process hung');
  if (count !== N) throw new Error(`lost items: ${count} != ${N}`);
  return [(N * 1000) / transfer, (N * 1000) / (performance.now() - t0)];
}

const PY_QUEUE = `
import multiprocessing as mp, time
def producer(q, ready, go, n):
    ready.put(1); go.wait()
    for i in range(n): q.put(i)
    q.put(None)
def consumer(q, ready, go, done):
    ready.put(1); go.wait()
    c = 0
    while q.get() is not None: c += 1
    done.put(c)
if __name__ == '__main__':
    n = ${N}; transfer = []; whole = []
    for _ in range(${RUNS}):
        q = mp.Queue(); ready = mp.Queue(); done = mp.Queue(); go = mp.Event()
        t0 = time.perf_counter()
        a = mp.Process(target=producer, args=(q, ready, go, n)); b = mp.Process(target=consumer, args=(q, ready, go, done))
        a.start(); b.start(); ready.get(); ready.get()
        t = time.perf_counter(); go.set(); c = done.get(); dt = time.perf_counter() - t
        a.join(); b.join()
        assert c == n
        transfer.append(n / dt); whole.append(n / (time.perf_counter() - t0))
    transfer.sort(); whole.sort()
    print(transfer[len(transfer) // 2], whole[len(whole) // 2])`;

/** Run a Python snippet that prints two numbers on its last line; null when python3 is missing. */
function pythonPair(code) {
  if (python('print(1)') === null) return null;
  const r = spawnSync('python3', ['-c', code], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop().split(' ').map(Number);
}

export default async function () {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await queueRun());
  const pyBoth = pythonPair(PY_QUEUE);
  report(
    'Queue, 100 000 ints producer process -> consumer process (items/s, processes running)',
    { label: 'conc Queue + Process', value: median(runs.map((r) => r[0])) },
    [
      {
        label: 'Python multiprocessing.Queue',
        value: pyBoth ? pyBoth[0] : null,
        skipped: 'python3 not found',
        target: { min: 10 },
      },
    ],
  );
  report(
    'The same, whole program: both processes started and joined (items/s)',
    { label: 'conc Queue + Process', value: median(runs.map((r) => r[1])) },
    [
      {
        label: 'Python multiprocessing.Queue',
        value: pyBoth ? pyBoth[1] : null,
        skipped: 'python3 not found',
        target: { min: 3 },
      },
    ],
  );

  const dir = mkdtempSync(join(tmpdir(), 'conc-bench-'));
  const raw = join(dir, 'raw.cjs');
  writeFileSync(
    raw,
    "require('fs').writeFileSync(process.argv[2], String(performance.timeOrigin + performance.now()));\n",
  );
  let k = 0;
  const firstLine = (file) => {
    require('node:fs').writeFileSync(file, String(performance.timeOrigin + performance.now()));
  };
  const startOurs = async (target) => {
    const f = join(dir, `t${k++}`);
    const t0 = performance.timeOrigin + performance.now();
    const p = new Process({ target, args: [f] }).start();
    if (!(await p.join({ timeout: 30_000 }))) throw new Error('a bench process hung');
    return Number(readFileSync(f, 'utf8')) - t0;
  };
  const startRaw = async () => {
    const f = join(dir, `t${k++}`);
    const t0 = performance.timeOrigin + performance.now();
    const c = fork(raw, [f]);
    await new Promise((r) => c.on('exit', r));
    return Number(readFileSync(f, 'utf8')) - t0;
  };
  const moduleTarget = { module: workers, export: 'firstLine' };
  const times = { module: [], fn: [], raw: [] };
  await startOurs(moduleTarget);
  await startOurs(firstLine);
  await startRaw();
  for (let i = 0; i < 3 * RUNS + 2; i++) {
    times.raw.push(await startRaw());
    times.module.push(await startOurs(moduleTarget));
    times.fn.push(await startOurs(firstLine));
  }
  rmSync(dir, { recursive: true, force: true });
  report(
    'Process start to first line of the target (ms, lower is better; interleaved runs)',
    { label: 'conc Process, module target', value: median(times.module) },
    [{ label: 'raw child_process.fork', value: median(times.raw), target: { max: 1.15 } }],
    'ms',
  );
  report(
    'The same, a function target (ms, lower is better)',
    { label: 'conc Process, function target', value: median(times.fn) },
    [{ label: 'raw child_process.fork', value: median(times.raw), target: { max: 1.15 } }],
    'ms',
  );

  await lockRows();
  await eventRow();
}

/** On the fallback (no @conc/shm) every call is a broker round trip: fewer of them. */
const shared = memoryBackend().name === 'shm';

async function lockRows() {
  // Uncontended acquireSync + release: in a child vs the same call here.
  const n = shared ? 2_000_000 : 3000;
  const lock = new Lock();
  const out = new Queue();
  const inChild = await repeat(async () => {
    const p = new Process({ target: { module: workers, export: 'uncontended' }, args: [lock, n, out] }).start();
    const r = await out.get({ timeout: 60_000 });
    await p.join({ timeout: 60_000 });
    return r;
  }, 3);
  const inParent = await repeat(async () => {
    const t = performance.now();
    for (let i = 0; i < 2_000_000; i++) {
      lock.acquireSync();
      lock.release();
    }
    return 2_000_000_000 / (performance.now() - t);
  }, 3);
  const pyWith = python(`
import multiprocessing as mp, time
def work(l, n, q):
    t = time.perf_counter()
    for _ in range(n):
        with l: pass
    q.put(n / (time.perf_counter() - t))
if __name__ == '__main__':
    l = mp.Lock(); q = mp.Queue()
    p = mp.Process(target=work, args=(l, 1000000, q)); p.start(); r = q.get(); p.join()
    print(r)`);
  report(
    `Lock acquireSync + release in a child process, uncontended (pairs/s; ${shared ? 'shared memory' : 'the broker: CONC_SHM=0 or no @conc/shm'})`,
    { label: 'conc Lock in a child', value: inChild },
    [
      { label: 'the same in the parent', value: inParent, target: { min: 0.5 } },
      { label: 'Python mp.Lock, with lock:', value: pyWith, skipped: 'python3 not found', target: { min: 2 } },
    ],
  );

  // 2 processes incrementing a plain counter under one Lock, timed between two barriers.
  const incs = shared ? 1_000_000 : 2000;
  const contended = await repeat(async () => {
    const lock2 = new Lock();
    const counter = new Counter();
    const barrier = new Barrier(3);
    const target = { module: workers, export: 'increments' };
    const ps = [0, 1].map(() => new Process({ target, args: [counter, lock2, incs, barrier] }).start());
    await barrier.wait();
    const t = performance.now();
    await barrier.wait();
    const ms = performance.now() - t;
    for (const p of ps) await p.join({ timeout: 60_000 });
    if (counter.value !== 2 * incs) throw new Error(`lost increments: ${counter.value} != ${2 * incs}`);
    return (2 * incs * 1000) / ms;
  }, 3);
  const raw = shared ? await repeat(mutexRun, 3) : null;
  const pyInc = python(`
import multiprocessing as mp, time
def work(lock, v, n, b):
    b.wait()
    for _ in range(n):
        with lock: v.value += 1
    b.wait()
if __name__ == '__main__':
    n = 1000000; rates = []
    for _ in range(3):
        lock = mp.Lock(); v = mp.Value('i', 0, lock=False); b = mp.Barrier(3)
        ps = [mp.Process(target=work, args=(lock, v, n, b)) for _ in range(2)]
        for p in ps: p.start()
        b.wait(); t = time.perf_counter(); b.wait(); dt = time.perf_counter() - t
        for p in ps: p.join()
        assert v.value == 2 * n
        rates.append(2 * n / dt)
    rates.sort(); print(rates[1])`);
  report(
    '2 processes incrementing one counter under one Lock (increments/s, total exact)',
    { label: 'conc Lock + Process', value: contended },
    [
      { label: 'Python mp.Lock + Value', value: pyInc, skipped: 'python3 not found', target: { min: 5 } },
      { label: 'raw shared memory + futex', value: raw, skipped: 'no @conc/shm', target: { min: 0.5 } },
    ],
  );
}

/** Event ping-pong parent <-> child vs Python's mp.Event. */
async function eventRow() {
  const n = shared ? 50_000 : 500;
  const rates = await repeat(async () => {
    const ping = new Event();
    const pong = new Event();
    const p = new Process({ target: { module: workers, export: 'eventPong' }, args: [ping, pong, n + 1] }).start();
    ping.set(); // a first round trip: the child is up
    pong.waitSync({ timeout: 60_000 });
    pong.clear();
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      ping.set();
      pong.waitSync();
      pong.clear();
    }
    const ms = performance.now() - t;
    await p.join({ timeout: 60_000 });
    return (n * 1000) / ms;
  }, 3);
  const py = python(`
import multiprocessing as mp, time
def pong(a, b, n):
    for _ in range(n):
        a.wait(); a.clear(); b.set()
if __name__ == '__main__':
    n = 20000
    a = mp.Event(); b = mp.Event()
    p = mp.Process(target=pong, args=(a, b, n)); p.start()
    t = time.perf_counter()
    for _ in range(n):
        a.set(); b.wait(); b.clear()
    r = n / (time.perf_counter() - t); p.join(); print(r)`);
  report('Event ping-pong parent <-> child process (round trips/s)', { label: 'conc Event', value: rates }, [
    { label: 'Python mp.Event', value: py, skipped: 'python3 not found', target: { min: 3 } },
  ]);
}
