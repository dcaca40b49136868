// @conc/shm rows: memory shared between processes and the kernel futex, raw (no
// conc primitive on top: this is the floor core's process backend builds on).
//
// Ping-pong parent <-> child over one word of a shared region (a turn counter:
// the parent writes odd, the child even, each wakes the other): polling 100
// times before parking, and parking at once; vs Python's multiprocessing.Event
// pair and vs Node's own IPC (process.send echo). Rates are round trips/s.
// Two processes x 1e6 plain increments under a 3-state futex mutex (Drepper's
// mutex 2) in the region, vs Python's mp.Lock + Value(lock=False): increments/s,
// and the total is checked exact.
import { spawn } from 'node:child_process';
import { python, repeat, report } from '../harness.mjs';

const shm = await import('@conc/shm');
const child = new URL('./shm.workers.mjs', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PINGS = 20_000;
const INCS = 1_000_000;

function start(fd, mode, n, spin = 0) {
  const p = spawn(process.execPath, [child, mode, String(n), String(spin)], {
    stdio: ['ignore', 'inherit', 'inherit', fd, ...(mode === 'ipc' ? ['ipc'] : [])],
  });
  const exited = new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`bench child ${mode} hung`));
    }, 120_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      code === 0 ? resolve() : reject(new Error(`bench child ${mode} exited ${code}`));
    });
  });
  return { p, exited };
}

function go(a) {
  while (Atomics.load(a, 1) === 0) shm.wait(a, 1, 0, 100);
  Atomics.store(a, 2, 1);
  shm.wake(a, 2);
}

function awaitValue(w, i, want, spins) {
  for (;;) {
    for (let k = 0; k < spins; k++) if (Atomics.load(w, i) === want) return;
    const v = Atomics.load(w, i);
    if (v === want) return;
    shm.wait(w, i, v, 10_000);
  }
}

/** Round trips/s of one ping-pong run. */
async function pingPong(spin) {
  const r = shm.createRegion(4096);
  const a = new Int32Array(r.buffer);
  const c = start(r.fd, 'pong', PINGS, spin);
  go(a);
  const t = performance.now();
  for (let i = 0; i < PINGS; i++) {
    Atomics.store(a, 0, 2 * i + 1);
    shm.wake(a, 0);
    awaitValue(a, 0, 2 * i + 2, spin);
  }
  const ms = performance.now() - t;
  await c.exited;
  shm.closeRegion(r);
  return (PINGS * 1000) / ms;
}

async function ipcPingPong() {
  const r = shm.createRegion(64);
  const c = start(r.fd, 'ipc', 0);
  await new Promise((res) => setTimeout(res, 100));
  const n = PINGS / 4;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    c.p.send(i);
    await new Promise((res) => c.p.once('message', res));
  }
  const ms = performance.now() - t;
  c.p.send('end');
  await c.exited;
  shm.closeRegion(r);
  return (n * 1000) / ms;
}

export async function mutexRun() {
  const r = shm.createRegion(4096);
  const a = new Int32Array(r.buffer);
  const c = start(r.fd, 'mutex', INCS);
  go(a);
  const t = performance.now();
  for (let i = 0; i < INCS; i++) {
    let s = Atomics.compareExchange(a, 4, 0, 1);
    if (s !== 0) {
      if (s !== 2) s = Atomics.exchange(a, 4, 2);
      while (s !== 0) {
        shm.wait(a, 4, 2);
        s = Atomics.exchange(a, 4, 2);
      }
    }
    a[3]++;
    if (Atomics.sub(a, 4, 1) !== 1) {
      Atomics.store(a, 4, 0);
      shm.wake(a, 4, 1);
    }
  }
  await c.exited;
  const ms = performance.now() - t;
  if (a[3] !== 2 * INCS) throw new Error(`the futex mutex lost increments: ${a[3]} != ${2 * INCS}`);
  shm.closeRegion(r);
  return (2 * INCS * 1000) / ms;
}

const PY_EVENT = `
import multiprocessing as mp, time
def pong(a, b, n):
    for _ in range(n):
        a.wait(); a.clear(); b.set()
if __name__ == '__main__':
    n = ${PINGS}; rates = []
    for _ in range(${RUNS}):
        a = mp.Event(); b = mp.Event()
        p = mp.Process(target=pong, args=(a, b, n)); p.start()
        t = time.perf_counter()
        for _ in range(n):
            a.set(); b.wait(); b.clear()
        rates.append(n / (time.perf_counter() - t)); p.join()
    rates.sort(); print(rates[len(rates) // 2])`;

const PY_LOCK = `
import multiprocessing as mp, time
def work(lock, v, n):
    for _ in range(n):
        with lock: v.value += 1
if __name__ == '__main__':
    n = ${INCS}; rates = []
    for _ in range(${RUNS}):
        lock = mp.Lock(); v = mp.Value('i', 0, lock=False)
        ps = [mp.Process(target=work, args=(lock, v, n)) for _ in range(2)]
        t = time.perf_counter()
        for p in ps: p.start()
        for p in ps: p.join()
        assert v.value == 2 * n
        rates.append(2 * n / (time.perf_counter() - t))
    rates.sort(); print(rates[len(rates) // 2])`;

export default async function () {
  if (!shm.available) {
    console.log(`\n@conc/shm rows skipped: ${shm.reason}`);
    return;
  }
  const spinPark = await repeat(() => pingPong(100), RUNS);
  const parkOnly = await repeat(() => pingPong(0), RUNS);
  const ipc = await repeat(ipcPingPong, RUNS);
  const pyEvent = python(PY_EVENT);
  report(
    'shm: ping-pong parent <-> child, round trips (spin 100 then park)',
    { label: 'shm futex, spin 100 + park', value: spinPark },
    [
      { label: 'Python mp.Event pair', value: pyEvent, skipped: 'no python3' },
      { label: 'Node IPC process.send echo', value: ipc },
    ],
  );
  report(
    'shm: ping-pong parent <-> child, round trips (park only)',
    { label: 'shm futex, park only', value: parkOnly },
    [
      { label: 'Python mp.Event pair', value: pyEvent, skipped: 'no python3' },
      { label: 'Node IPC process.send echo', value: ipc },
    ],
  );
  const mutex = await repeat(mutexRun, RUNS);
  report('shm: 2 processes x 1e6 increments under one lock', { label: 'shm 3-state futex mutex', value: mutex }, [
    { label: 'Python mp.Lock + Value(lock=False)', value: python(PY_LOCK), skipped: 'no python3' },
  ]);
}
