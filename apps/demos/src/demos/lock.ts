// The document's lock example: two threads deposit into one balance under a
// Lock. Python's global `balance` is shared by its threads; Node's threads
// share only what lives in a SharedArrayBuffer, so the balance does.
//
//   balance = 100                        const balance = new Int32Array(new SharedArrayBuffer(4)); balance[0] = 100
//   def deposit(amount, lock):           function deposit(amount, lock, balance) {
//       lock.acquire()                       lock.acquireSync()
//       balance += amount                    balance[0] += amount
//       lock.release()                       lock.release() }
import { Lock } from '@conc/lock';
import { Thread } from '@conc/thread';

export function deposit(amount: number, lock: Lock, balance: Int32Array): void {
  lock.acquireSync();
  balance[0] += amount;
  lock.release();
}

export async function main(): Promise<void> {
  const balance = new Int32Array(new SharedArrayBuffer(4));
  balance[0] = 100;

  const lock = new Lock();

  const thread1 = new Thread({ target: deposit, args: [50, lock, balance] });
  const thread2 = new Thread({ target: deposit, args: [70, lock, balance] });

  thread1.start();
  thread2.start();

  await thread1.join();
  await thread2.join();

  console.log(`Баланс: ${balance[0]}`);
}
