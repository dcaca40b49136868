// A semaphore lets at most N threads into a section at once. Five worker
// threads share two slots; each line shows how many are inside right then,
// and the last line the most there ever were.
//
//   slots = threading.Semaphore(2)       const slots = new Semaphore(2)
//   def worker(n):                       function worker(n, slots, inside) {
//       with slots:                          slots.withLockSync(() => {
//           ...                                  ... })
//
// The counters live in a SharedArrayBuffer, the only memory threads share.
import { Semaphore } from '@conc/semaphore';
import { Thread, sleep } from '@conc/thread';

/** inside[0]: threads in the section now; inside[1]: the most at once. */
export function worker(n: number, slots: Semaphore, inside: Int32Array): void {
  console.log(`Поток ${n} ждёт места`);
  slots.withLockSync(() => {
    const now = Atomics.add(inside, 0, 1) + 1;
    for (let max = Atomics.load(inside, 1); now > max; max = Atomics.load(inside, 1)) {
      if (Atomics.compareExchange(inside, 1, max, now) === max) break;
    }
    console.log(`Поток ${n} вошёл (внутри: ${now})`);
    sleep(200);
    const left = Atomics.sub(inside, 0, 1) - 1;
    console.log(`Поток ${n} вышел (внутри: ${left})`);
  });
}

export async function main(): Promise<void> {
  const slots = new Semaphore(2);
  const inside = new Int32Array(new SharedArrayBuffer(8));

  const target = { module: import.meta.url, export: 'worker' };
  const threads = [1, 2, 3, 4, 5].map((n) => new Thread({ target, args: [n, slots, inside] }).start());
  for (const t of threads) await t.join();

  console.log(`Все потоки завершены; одновременно внутри было не больше ${Atomics.load(inside, 1)}`);
}
