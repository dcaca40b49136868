// core's AdaptiveSpin (spin.ts) backs off when spinning fails: several pairs of
// threads ping-ponging at once, more runnable threads than cores, with an
// AdaptiveSpin then a park (as Condition and Barrier wait) against a fixed 2000-poll spin, in
// turns in the same invocation; and one pair (a core each), where spinning
// pays and the adaptive spin must not cost anything. No target in
// BENCHMARKS.md: for information (item 2 of issue 10).
import { availableParallelism } from 'node:os';
import { Thread } from '@conc/thread';
import { median, report } from '../harness.mjs';

const workers = new URL('./spin.workers.mjs', import.meta.url).href;

/** Total round trips/s of `pairs` pairs of threads, each pair `n` rounds of `name`; and the budgets they ended with. */
async function pairsPingPong(name, pairs, n) {
  const target = { module: workers, export: name };
  const gos = [];
  const threads = [];
  for (let p = 0; p < pairs; p++) {
    const go = new Int32Array(new SharedArrayBuffer(4));
    const turn = new Int32Array(new SharedArrayBuffer(4));
    gos.push(go);
    for (const me of [0, 1]) threads.push(new Thread({ target, args: [turn, go, n, me] }).start());
  }
  for (const go of gos) while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, Atomics.load(go, 0), 5);
  const t = performance.now();
  for (const th of threads) await th.join();
  const rate = (pairs * n * 1000) / (performance.now() - t);
  return { rate, budget: median(threads.map((th) => th.result)) };
}

async function inTurns(rounds, pairs, n) {
  const adaptive = [];
  const fixed = [];
  const budgets = [];
  for (let r = 0; r < rounds; r++) {
    const a = await pairsPingPong('adaptivePingPong', pairs, n);
    adaptive.push(a.rate);
    budgets.push(a.budget);
    fixed.push((await pairsPingPong('fixedPingPong', pairs, n)).rate);
  }
  return { adaptive: median(adaptive), fixed: median(fixed), budget: median(budgets) };
}

export default async function () {
  const cores = availableParallelism();
  const pairs = cores + 1;
  const crowded = await inTurns(3, pairs, 20_000);
  report(
    `Ping-pong, ${pairs} pairs (${2 * pairs} threads) on ${cores} cores (round trips/s, total)`,
    { label: `AdaptiveSpin, then park (ends at ${Math.round(crowded.budget)} polls)`, value: crowded.adaptive },
    [{ label: 'fixed spin, 2000 polls then park', value: crowded.fixed }],
  );
  const one = await inTurns(3, 1, 100_000);
  report(
    `Ping-pong, 1 pair on ${cores} cores (round trips/s)`,
    { label: `AdaptiveSpin, then park (ends at ${Math.round(one.budget)} polls)`, value: one.adaptive },
    [{ label: 'fixed spin, 2000 polls then park', value: one.fixed }],
  );
}
