// Process targets for rows/process.mjs (imported in the children).
import { writeFileSync } from 'node:fs';

export function firstLine(file) {
  writeFileSync(file, String(performance.timeOrigin + performance.now()));
}

/** The document's producer: check in, wait for the start signal, put n ints and the sentinel. */
export async function produce(q, ready, go, n) {
  await ready.put(1);
  await go.wait();
  for (let i = 0; i < n; i++) await q.put(i);
  await q.put(null);
}

/** The document's consumer: check in, wait for the start signal, take until the sentinel, report the count. */
export async function consume(q, ready, go, done) {
  await ready.put(1);
  await go.wait();
  let count = 0;
  while ((await q.get()) !== null) count++;
  await done.put(count);
}

export async function lockRoundTrips(lock, n, out) {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
  await out.put((n * 1000) / (performance.now() - t));
}
