// A condition lets threads wait until shared state is the way they need it.
// Here a producer thread fills a small buffer and two consumer threads empty
// it: two Conditions over one Lock, "not full" and "not empty", as in
// Python's classic bounded buffer. The buffer lives in shared memory.
//
//   lock = threading.Lock()               const lock = new Lock()
//   not_empty = threading.Condition(lock) const notEmpty = new Condition(lock)
//   with not_empty:                       notEmpty.acquireSync()
//       not_empty.wait_for(lambda: items) notEmpty.waitForSync(() => buf[COUNT] > 0)
//       item = take()                     const item = take(buf)
//       not_full.notify()                 notFull.notify()
//                                         notEmpty.release()
import { Condition, Lock } from '@conc/condition';
import { Thread, sleep } from '@conc/thread';

const CAPACITY = 4;
const ITEMS = 20;
// Buffer layout: a ring of CAPACITY slots after three bookkeeping words.
const HEAD = 0;
const TAIL = 1;
const COUNT = 2;
const SLOTS = 3;

export function producer(buf: Int32Array, notEmpty: Condition, notFull: Condition, consumers: number): void {
  // items 1..ITEMS, then a 0 for each consumer: "no more"
  for (let i = 1; i <= ITEMS + consumers; i++) {
    const item = i <= ITEMS ? i : 0;
    notFull.acquireSync();
    try {
      notFull.waitForSync(() => buf[COUNT] < CAPACITY);
      buf[SLOTS + buf[TAIL]] = item;
      buf[TAIL] = (buf[TAIL] + 1) % CAPACITY;
      buf[COUNT]++;
      if (item !== 0) console.log(`Производитель: положил ${item} (в буфере ${buf[COUNT]} из ${CAPACITY})`);
      notEmpty.notify();
    } finally {
      notFull.release();
    }
  }
}

export function consumer(name: string, buf: Int32Array, notEmpty: Condition, notFull: Condition): number[] {
  const taken: number[] = [];
  for (;;) {
    let item: number;
    notEmpty.acquireSync();
    try {
      notEmpty.waitForSync(() => buf[COUNT] > 0);
      item = buf[SLOTS + buf[HEAD]];
      buf[HEAD] = (buf[HEAD] + 1) % CAPACITY;
      buf[COUNT]--;
      if (item !== 0) console.log(`Потребитель ${name}: взял ${item} (в буфере ${buf[COUNT]} из ${CAPACITY})`);
      notFull.notify();
    } finally {
      notEmpty.release();
    }
    if (item === 0) break;
    taken.push(item);
    sleep(3); // process the item: slower than the producer, so the buffer fills up
  }
  console.log(`Потребитель ${name}: закончил, обработал ${taken.length}`);
  return taken;
}

export async function main(): Promise<void> {
  const buf = new Int32Array(new SharedArrayBuffer(4 * (SLOTS + CAPACITY)));
  const lock = new Lock();
  const notEmpty = new Condition(lock);
  const notFull = new Condition(lock);

  const at = (name: string) => ({ module: import.meta.url, export: name });
  const consumers = ['А', 'Б'].map(
    (name) => new Thread({ target: at('consumer'), args: [name, buf, notEmpty, notFull] }),
  );
  const producerThread = new Thread({ target: at('producer'), args: [buf, notEmpty, notFull, consumers.length] });
  for (const t of [...consumers, producerThread]) t.start();

  for (const t of [producerThread, ...consumers]) await t.join();
  const taken = consumers.flatMap((t) => t.result as number[]).sort((a, b) => a - b);
  const sum = taken.reduce((a, b) => a + b, 0);
  console.log(`Обработано ${taken.length} из ${ITEMS}, сумма ${sum}`);
  console.log(
    `Каждый элемент ровно один раз: ${taken.every((v, i) => v === i + 1) && taken.length === ITEMS ? 'да' : 'нет'}`,
  );
}
