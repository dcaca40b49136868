import { Condition, Lock } from '@conc/condition';
import { Thread } from '@conc/thread';
const root = process.cwd();
const workers = new URL('bench/rows/condition.workers.mjs', `file://${root}/`).href;
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
const which = process.argv[2] ?? 'rlock';
for (let r = 0; r < 5; r++) {
  const a = await pingPong(
    'conditionPingPong',
    [which === 'lock' ? new Condition(new Lock()) : new Condition(), turn()],
    200000,
  );
  const b = await pingPong('rawPingPong', [turn()], 200000);
  console.log(which, (a / 1000).toFixed(0), 'k/s raw', (b / 1000).toFixed(0), 'k/s ratio', (a / b).toFixed(2));
}
