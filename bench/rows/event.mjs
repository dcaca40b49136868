// @conc/event rows: Event ping-pong between two threads against Python's
// threading.Event and a raw spin-then-park SAB ping-pong; memory per Event.
import { Event } from '@conc/event';
import { Thread } from '@conc/thread';
import { python, repeat, report } from '../harness.mjs';

const workers = new URL('./event.workers.mjs', import.meta.url).href;

/**
 * Round trips per second of `n` ping-pong rounds between two threads running
 * `workers`' `name(arg, go, n, ping)`; the clock starts once both are at the
 * start line.
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

/** Median of three Python runs of `body` (which times n round trips and prints the rate). */
export function pythonPingPong(setup, ping, pong, n) {
  return python(`
import threading, time, statistics
def once(n):
${setup}
    def pong():
        for _ in range(n):
${pong}
    t = threading.Thread(target=pong)
    start = time.perf_counter()
    t.start()
    for _ in range(n):
${ping}
    t.join()
    return n / (time.perf_counter() - start)
print(statistics.median(once(${n}) for _ in range(3)))`);
}

export default async function () {
  const n = 200_000;
  const ours = await repeat(() => pingPongRate(workers, 'eventPingPong', [new Event(), new Event()].reverse(), null, n), 1)
    .then(() => 0); // placeholder replaced below
  void ours;
}
