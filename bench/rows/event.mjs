// @conc/event rows: Event ping-pong between two threads against Python's
// threading.Event and a raw spin-then-park SAB ping-pong; memory per Event.
import { Event } from '@conc/event';
import { Thread } from '@conc/thread';
import { median, python, report, sharedBytes } from '../harness.mjs';

const workers = new URL('./event.workers.mjs', import.meta.url).href;

/**
 * Round trips per second of `n` ping-pong rounds between two threads, each
 * running `module`'s export `name(arg, go, n, ping)`; the clock starts once
 * both are at the start line.
 */
export async function pingPongRate(module, name, pingArg, pongArg, n) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const target = { module, export: name };
  const threads = [
    new Thread({ target, args: [pingArg, go, n, true] }).start(),
    new Thread({ target, args: [pongArg, go, n, false] }).start(),
  ];
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, Atomics.load(go, 0), 5);
  const t = performance.now();
  for (const th of threads) await th.join();
  return (n * 1000) / (performance.now() - t);
}

/** The raw baseline: one word, spin up to 2000 loads then Atomics.wait. */
export function rawPingPongRate(module, n) {
  const word = new Int32Array(new SharedArrayBuffer(4));
  return pingPongRate(module, 'rawPingPong', word, word, n);
}

/**
 * One Python ping-pong of `n` round trips between the main thread (`ping`)
 * and a second thread (`pong`), after `setup`; round trips/s, or null
 * without python3.
 */
export function pythonPingPong(setup, ping, pong, n) {
  return python(`
import threading, time
${setup}
def pong():
    for _ in range(${n}):
        ${pong}
t = threading.Thread(target=pong)
start = time.perf_counter()
t.start()
for _ in range(${n}):
    ${ping}
t.join()
print(${n} / (time.perf_counter() - start))`);
}

/**
 * The machine is shared and its load drifts: run the contenders in turns,
 * `rounds` times, and return the median of each (null stays null).
 */
export async function inTurns(rounds, contenders) {
  const runs = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) runs[i].push(await contenders[i]());
  }
  return runs.map((values) => (values.includes(null) ? null : median(values)));
}

export default async function () {
  const n = 200_000;
  const [ours, raw, py] = await inTurns(5, [
    () => {
      const [a, b] = [new Event(), new Event()];
      return pingPongRate(workers, 'eventPingPong', [a, b], [b, a], n);
    },
    () => rawPingPongRate(workers, n),
    () =>
      pythonPingPong(
        'a, b = threading.Event(), threading.Event()',
        'b.set(); a.wait(); a.clear()',
        'b.wait(); b.clear(); a.set()',
        20_000,
      ),
  ]);
  report('Event ping-pong between 2 threads (round trips/s)', { label: 'conc Event (waitSync)', value: ours }, [
    { label: 'raw SAB, spin 2000 then park', value: raw, target: { min: 0.3 } },
    { label: 'Python threading.Event', value: py, skipped: 'python3 not found', target: { min: 10 } },
  ]);

  const before = sharedBytes();
  const many = [];
  for (let i = 0; i < 100_000; i++) many.push(new Event());
  const perEvent = (sharedBytes() - before) / many.length;
  report(
    'Shared memory per Event, 100 k Events (bytes)',
    { label: 'conc Event', value: perEvent },
    [{ label: 'budget in BENCHMARKS.md', value: 256, target: { max: 1 } }],
    'bytes',
  );
}
