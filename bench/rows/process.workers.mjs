// Process targets for rows/process.mjs (imported in the children).
import { writeFileSync } from 'node:fs';

export function firstLine(file) {
  writeFileSync(file, String(performance.timeOrigin + performance.now()));
}

export async function produce(q, n) {
  for (let i = 0; i < n; i++) await q.put(i);
  await q.put(null);
}

export async function consume(q, done) {
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
