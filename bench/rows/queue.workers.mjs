// Thread targets for the queue rows (loaded by module reference in the
// workers): producers and consumers over a conc Queue, and the same item
// makers for the postMessage baseline.
import { Queue } from '@conc/queue';

const NAMES = Array.from({ length: 100 }, (_, i) => `item${i}`);

/** The i-th item of a run: a small int, or a small object { id, name }. */
export function item(kind, i) {
  return kind === 'int' ? i : { id: i, name: NAMES[i % 100] };
}

/** What a consumer adds up, so that nothing is lost or made up. */
export function idOf(v) {
  return typeof v === 'number' ? v : v.id;
}

/**
 * go[0]: threads at the start line; go[1]: set by the main thread to start;
 * go[2]: consumers done. Each side checks in and waits for the start.
 */
export function startLine(go) {
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0, 5);
}

export function finishLine(go) {
  Atomics.add(go, 2, 1);
  Atomics.notify(go, 2);
}

/** Put items from..from+n-1 with putSync. */
export function produce(q, go, kind, from, n) {
  if (!(q instanceof Queue)) throw new TypeError('not a Queue');
  startLine(go);
  for (let i = from; i < from + n; i++) q.putSync(item(kind, i));
}

/** Take n items with getSync; returns the sum of their ids. */
export function consume(q, go, n) {
  startLine(go);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += idOf(q.getSync());
  finishLine(go);
  return sum;
}

/** Take n items with `await q.get()`; returns the sum of their ids. */
export async function consumeAsync(q, go, n) {
  startLine(go);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += idOf(await q.get());
  finishLine(go);
  return sum;
}

export { Queue };
