// @conc/queue rows: small values (ints, and objects { id, name }) from one
// thread to another through a conc Queue, against postMessage between the
// same two threads and Python's queue.Queue; then two producers and two
// consumers. Targets (../shared/BENCHMARKS.md): >= 2x postMessage and >= 20x
// Python's queue.Queue, items/s.
import { MessageChannel, Worker } from 'node:worker_threads';
import { Queue } from '@conc/queue';
import { Thread } from '@conc/thread';
import { median, python, report } from '../harness.mjs';

const workers = new URL('./queue.workers.mjs', import.meta.url).href;
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);

/** Sum of ids 0..n-1 as the consumers add them up. */
const idSum = (from, n) => (n * (2 * from + n - 1)) / 2;

/**
 * Start `threads` (already started, each checking in at go[0]), release them
 * together, and return ms until `consumers` of them crossed the finish line.
 */
function timeRun(go, parties, consumers) {
  while (Atomics.load(go, 0) < parties) Atomics.wait(go, 0, Atomics.load(go, 0), 5);
  const t = performance.now();
  Atomics.store(go, 1, 1);
  Atomics.notify(go, 1);
  for (let done = Atomics.load(go, 2); done < consumers; done = Atomics.load(go, 2)) Atomics.wait(go, 2, done, 50);
  return performance.now() - t;
}

/** Items/s through a conc Queue: `producers` x n items in, `consumers` share them. */
async function concRate(kind, n, producers = 1, consumers = 1, consumer = 'consume') {
  const q = new Queue();
  const go = new Int32Array(new SharedArrayBuffer(12));
  const total = n * producers;
  const threads = [];
  for (let c = 0; c < consumers; c++) {
    threads.push(
      new Thread({ target: { module: workers, export: consumer }, args: [q, go, total / consumers] }).start(),
    );
  }
  for (let p = 0; p < producers; p++) {
    threads.push(new Thread({ target: { module: workers, export: 'produce' }, args: [q, go, kind, p * n, n] }).start());
  }
  const ms = timeRun(go, producers + consumers, consumers);
  let sum = 0;
  for (const [i, th] of threads.entries()) {
    if (!(await th.join({ timeout: 60_000 }))) throw new Error('a queue bench thread hung');
    if (i < consumers) sum += th.result;
  }
  if (sum !== idSum(0, total)) throw new Error(`queue bench: ids add up to ${sum}, expected ${idSum(0, total)}`);
  return (total * 1000) / ms;
}

const ITEM_SRC = `
const NAMES = Array.from({ length: 100 }, (_, i) => 'item' + i);
const item = (kind, i) => (kind === 'int' ? i : { id: i, name: NAMES[i % 100] });
const idOf = (v) => (typeof v === 'number' ? v : v.id);
const { workerData: { port, go, kind, n } } = require('node:worker_threads');
Atomics.add(go, 0, 1);
Atomics.notify(go, 0);
`;
const POST_PRODUCER = `${ITEM_SRC}
while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0, 5);
for (let i = 0; i < n; i++) port.postMessage(item(kind, i));
port.close();
`;
const POST_CONSUMER = `${ITEM_SRC}
let count = 0, sum = 0;
port.on('message', (v) => {
  sum += idOf(v);
  if (++count === n) {
    if (sum !== (n * (n - 1)) / 2) throw new Error('postMessage bench: lost items');
    Atomics.add(go, 2, 1);
    Atomics.notify(go, 2);
    port.close();
  }
});
`;

/** Items/s through postMessage on a MessageChannel between two workers. */
async function postMessageRate(kind, n) {
  const go = new Int32Array(new SharedArrayBuffer(12));
  const { port1, port2 } = new MessageChannel();
  const start = (src, port) => new Worker(src, { eval: true, workerData: { port, go, kind, n }, transferList: [port] });
  const ws = [start(POST_CONSUMER, port2), start(POST_PRODUCER, port1)];
  const ms = timeRun(go, 2, 1);
  await Promise.all(ws.map((w) => new Promise((resolve) => w.on('exit', resolve))));
  return (n * 1000) / ms;
}

/** Items/s of one run through Python's queue.Queue between threads (null without python3). */
function pythonRate(kind, n, producers = 1, consumers = 1) {
  const make = kind === 'int' ? 'i' : "{'id': i, 'name': NAMES[i % 100]}";
  return python(`
import queue, threading, time
NAMES = ['item%d' % i for i in range(100)]
def run():
    q = queue.Queue()  # unbounded, as ours
    total = ${n} * ${producers}
    def produce(start):
        for i in range(start, start + ${n}):
            q.put(${make})
    def consume(k):
        for _ in range(k):
            q.get()
    ts = [threading.Thread(target=consume, args=(total // ${consumers},)) for _ in range(${consumers})]
    ts += [threading.Thread(target=produce, args=(p * ${n},)) for p in range(${producers})]
    t = time.perf_counter()
    for x in ts: x.start()
    for x in ts: x.join()
    return total / (time.perf_counter() - t)
run()  # warm-up
print(run())`);
}

/**
 * Run the contenders in turns (the machine's load drifts, and Python's rate
 * swings with how its GIL hands over) and take each one's median.
 */
async function inTurns(rounds, contenders) {
  const runs = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) runs[i].push(await contenders[i]());
  }
  return runs.map((values) => (values.includes(null) ? null : median(values)));
}

export default async function () {
  for (const [kind, what] of [
    ['int', 'small ints'],
    ['obj', 'small objects { id, name }'],
  ]) {
    const n = kind === 'int' ? 1_000_000 : 400_000;
    const [ours, oursAsync, post, py] = await inTurns(ROUNDS, [
      () => concRate(kind, n),
      () => concRate(kind, n, 1, 1, 'consumeAsync'),
      () => postMessageRate(kind, Math.min(n, 300_000)),
      () => pythonRate(kind, 100_000),
    ]);
    report(`Queue, ${what}, thread -> thread (items/s)`, { label: 'conc Queue putSync -> getSync', value: ours }, [
      { label: 'postMessage (MessageChannel)', value: post, target: { min: 2 } },
      { label: 'Python queue.Queue', value: py, skipped: 'python3 not found', target: { min: 20 } },
    ]);
    report(
      `Queue, ${what}, thread -> thread, consumer awaits get() (items/s)`,
      { label: 'conc Queue putSync -> await get', value: oursAsync },
      [{ label: 'postMessage (MessageChannel)', value: post, target: { min: 2 } }],
    );
  }

  const [two, pyTwo] = await inTurns(ROUNDS, [
    () => concRate('int', 500_000, 2, 2),
    () => pythonRate('int', 50_000, 2, 2),
  ]);
  report(
    'Queue, small ints, 2 producer threads x 2 consumer threads (items/s, total)',
    { label: 'conc Queue', value: two },
    [{ label: 'Python queue.Queue, 2 x 2 threads', value: pyTwo, skipped: 'python3 not found', target: { min: 20 } }],
  );
}
