// The document's first example: two threads, each sleeping 2 s, run in
// parallel (about 2 s in all, not 4).
//
//   import threading, time               import { Thread, sleep } from '@conc/thread'
//   def task(name): ...                  export function task(name) { ... }
//   thread1 = threading.Thread(          const thread1 = new Thread({
//       target=task, args=("1",))            target: { module: import.meta.url, export: 'task' }, args: ['1'] })
//
// `task` uses `sleep`, an import of this module, so the thread imports this
// module to find it ({ module, export }) instead of receiving its source.
import { Thread, sleep } from '@conc/thread';

export function task(name: string): void {
  console.log(`Задача ${name} запущена`);
  sleep(2000);
  console.log(`Задача ${name} завершена`);
}

export async function main(): Promise<void> {
  const target = { module: import.meta.url, export: 'task' };
  const thread1 = new Thread({ target, args: ['1'] });
  const thread2 = new Thread({ target, args: ['2'] });

  thread1.start();
  thread2.start();

  await thread1.join();
  await thread2.join();

  console.log('Все задачи завершены');
}
