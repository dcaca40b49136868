// The document's second example: two processes, each sleeping 2 s, run in
// parallel (about 2 s in all, not 4).
//
//   import multiprocessing, time          import { Process } from '@conc/process'
//   def task(name): ...                   export function task(name) { ... }
//   process1 = multiprocessing.Process(   const process1 = new Process({
//       target=task, args=("1",))             target: { module: import.meta.url, export: 'task' }, args: ['1'] })
//
// The child imports this module to find `task` (as Python's spawn re-imports
// __main__), which is why demos keep their top level free of side effects.
import { Process } from '@conc/process';
import { sleep } from '@conc/thread';

export function task(name: string): void {
  console.log(`Задача ${name} запущена`);
  sleep(2000);
  console.log(`Задача ${name} завершена`);
}

export async function main(): Promise<void> {
  const target = { module: import.meta.url, export: 'task' };
  const process1 = new Process({ target, args: ['1'] });
  const process2 = new Process({ target, args: ['2'] });

  process1.start();
  process2.start();

  await process1.join();
  await process2.join();

  console.log('Все задачи завершены');
}
