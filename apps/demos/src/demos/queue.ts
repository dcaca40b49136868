// The document's producer / consumer: two processes and a Queue owned by the
// parent, with `null` (Python's None) as the sentinel.
//
//   queue = multiprocessing.Queue()        const queue = new Queue()
//   def producer(queue):                   export async function producer(queue) {
//       for i in range(5): queue.put(i)        for (let i = 0; i < 5; i++) await queue.put(i) }
//   def consumer(queue): ...               export async function consumer(queue) { ... }
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';

export async function producer(queue: Queue<number | null>): Promise<void> {
  for (let i = 0; i < 5; i++) await queue.put(i);
}

export async function consumer(queue: Queue<number | null>): Promise<void> {
  for (;;) {
    const item = await queue.get();
    if (item === null) break;
    console.log(`Получено: ${item}`);
  }
}

export async function main(): Promise<void> {
  const queue = new Queue<number | null>();

  const process1 = new Process({ target: { module: import.meta.url, export: 'producer' }, args: [queue] });
  const process2 = new Process({ target: { module: import.meta.url, export: 'consumer' }, args: [queue] });

  process1.start();
  process2.start();

  await process1.join();
  await queue.put(null);
  await process2.join();
}
