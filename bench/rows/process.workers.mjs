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

/** Uncontended acquireSync + release, n pairs: report the rate. */
export async function uncontended(lock, n, out) {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
  await out.put((n * 1000) / (performance.now() - t));
}

/** n increments of a plain counter, each under the lock, between two barrier waits (the parent times that span). */
export async function increments(counter, lock, n, barrier) {
  barrier.waitSync();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    counter.add(1);
    lock.release();
  }
  barrier.waitSync();
}

/** The child's half of an Event ping-pong: wait for ping, clear it, set pong; n times. */
export function eventPong(ping, pong, n) {
  for (let i = 0; i < n; i++) {
    ping.waitSync();
    ping.clear();
    pong.set();
  }
}
