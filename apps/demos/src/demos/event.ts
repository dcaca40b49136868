// An event is a flag threads wait on: here three worker threads get ready,
// wait for the start signal, and all run the moment the main thread sets it.
//
//   start = threading.Event()            const start = new Event()
//   def runner(n):                       function runner(n, start, ready) {
//       start.wait()                         start.waitSync()
//       ...                                  ... }
//   start.set()                          start.set()
//
// The main thread waits (without blocking) until every runner is ready, so
// no runner can miss the start: a Semaphore(0) counts them in.
import { Event } from '@conc/event';
import { Semaphore } from '@conc/semaphore';
import { Thread, sleep } from '@conc/thread';

export function runner(n: number, start: Event, ready: Semaphore): void {
  console.log(`Поток ${n} готов и ждёт сигнала`);
  ready.release();
  start.waitSync();
  console.log(`Поток ${n} стартовал`);
  sleep(50 * n);
  console.log(`Поток ${n} финишировал`);
}

export async function main(): Promise<void> {
  const start = new Event();
  const ready = new Semaphore(0);

  const target = { module: import.meta.url, export: 'runner' };
  const threads = [1, 2, 3].map((n) => new Thread({ target, args: [n, start, ready] }).start());
  for (let i = 0; i < threads.length; i++) await ready.acquire();

  console.log('Все готовы: старт!');
  start.set();

  for (const t of threads) await t.join();
  console.log('Все потоки финишировали');
}
