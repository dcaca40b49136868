// The document's queue example: a producer puts 0..4 into a queue, a consumer
// prints them until it gets the None sentinel. The document uses processes;
// this is the same program with two threads (@conc/process runs it across
// processes). `null` plays None.
//
//   def producer(queue):                    function producer(queue) {
//       for i in range(5):                      for (let i = 0; i < 5; i++)
//           queue.put(i)                            queue.putSync(i) }
//   def consumer(queue):                    function consumer(queue) {
//       while True:                             for (;;) {
//           item = queue.get()                      const item = queue.getSync()
//           if item is None: break                  if (item === null) break
//           print(f"Получено: {item}")              console.log(`Получено: ${item}`) } }
//   queue = multiprocessing.Queue()         const queue = new Queue()
//   process1 = Process(target=producer,     const thread1 = new Thread({ target: producer,
//                      args=(queue,))                                     args: [queue] })
//   ...                                     ...
//   process1.join()                         await thread1.join()
//   queue.put(None)                         queue.putSync(null)
//   process2.join()                         await thread2.join()
//
// The targets use nothing but their argument, so they travel to the threads
// as source text; the queue arrives there as a Queue over the same memory.
import { Queue } from '@conc/queue';
import { Thread } from '@conc/thread';

export function producer(queue: Queue<number | null>): void {
  for (let i = 0; i < 5; i++) {
    queue.putSync(i);
  }
}

export function consumer(queue: Queue<number | null>): void {
  for (;;) {
    const item = queue.getSync();
    if (item === null) break;
    console.log(`Получено: ${item}`);
  }
}

export async function main(): Promise<void> {
  const queue = new Queue<number | null>();

  const thread1 = new Thread({ target: producer, args: [queue] });
  const thread2 = new Thread({ target: consumer, args: [queue] });

  thread1.start();
  thread2.start();

  await thread1.join();
  queue.putSync(null);
  await thread2.join();
}
