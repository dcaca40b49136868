// @conc/condition rows: Condition ping-pong between two threads against
// Python's threading.Condition and a raw spin-then-park SAB ping-pong, run
// in turns in the same invocation (targets from BENCHMARKS.md: >= 0.3x raw,
// >= 20x Python; the Python contender only where python3 is found); memory
// per Condition.
import { Condition, Lock } from '@conc/condition';
import { Thread } from '@conc/thread';
import { median, python, report, sharedBytes } from '../harness.mjs';

const workers = new URL('./condition.workers.mjs', import.meta.url).href;

/** Round trips/s of `n` rounds of workers' `name(...args, go, n, me)` in two threads, from the start line. */
async function pingPong(name, args, n) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const target = { module: workers, export: name };
  const threads = [0, 1].map((me) => new Thread({ target, args: [...args, go, n, me] }).start());
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, Atomics.load(go, 0), 5);
  const t = performance.now();
  for (const th of threads) await th.join();
  return (n * 1000) / (performance.now() - t);
}

const turn = () => new Int32Array(new SharedArrayBuffer(4));

function pythonConditionPingPong(n) {
  return python(`
import threading, time
c = threading.Condition()
turn = [0]
def player(me):
    for _ in range(${n}):
        with c:
            while turn[0] != me:
                c.wait()
            turn[0] = 1 - me
            c.notify()
ts = [threading.Thread(target=player, args=(m,)) for m in (0, 1)]
start = time.perf_counter()
for t in ts: t.start()
for t in ts: t.join()
print(${n} / (time.perf_counter() - start))`);
}

/** Run the contenders in turns, `rounds` times (the machine's load drifts); median of each. */
async function inTurns(rounds, contenders) {
  const runs = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) runs[i].push(await contenders[i]());
  }
  return runs.map((values) => (values.includes(null) ? null : median(values)));
}

export default async function () {
  const n = 200_000;
  const [ours, oursLock, raw, py] = await inTurns(5, [
    () => pingPong('conditionPingPong', [new Condition(), turn()], n),
    () => pingPong('conditionPingPong', [new Condition(new Lock()), turn()], n),
    () => pingPong('rawPingPong', [turn()], n),
    () => pythonConditionPingPong(20_000),
  ]);
  const baselines = () => [
    { label: 'raw SAB, spin 2000 then park', value: raw, target: { min: 0.3 } },
    { label: 'Python threading.Condition', value: py, skipped: 'python3 not found', target: { min: 20 } },
  ];
  report(
    'Condition ping-pong between 2 threads (round trips/s)',
    { label: 'conc Condition() (RLock)', value: ours },
    baselines(),
  );
  report(
    'Condition ping-pong over a Lock (round trips/s)',
    { label: 'conc Condition(new Lock())', value: oursLock },
    baselines(),
  );

  const before = sharedBytes();
  const many = [];
  for (let i = 0; i < 20_000; i++) many.push(new Condition());
  const each = (sharedBytes() - before) / many.length;
  report(
    'Shared memory per Condition with its RLock, 20 k of them (bytes)',
    { label: 'conc Condition', value: each },
    [{ label: 'a Lock’s budget in BENCHMARKS.md', value: 256 }],
    'bytes',
  );
}
