// Thread targets for the event and semaphore rows (loaded by module reference
// in the workers): ping-pong between two threads over conc Events and over a
// raw SharedArrayBuffer word, the baseline BENCHMARKS.md measured.
import { Event } from '@conc/event';

/** Both sides wait here so the clock starts with both threads running. */
export function startLine(go) {
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, 1, 5);
}

/** Wait while w[0] === value: spin up to 2000 loads, then park. */
function rawWaitWhile(w, value) {
  for (;;) {
    for (let i = 0; i < 2000; i++) if (Atomics.load(w, 0) !== value) return;
    Atomics.wait(w, 0, value);
  }
}

/**
 * Raw spin-then-park ping-pong over one word: the pinger flips it to 1 and
 * waits for 0, the ponger waits for 1 and flips it back. One round trip per
 * iteration; every flip notifies (a raw word does not count its waiters).
 */
export function rawPingPong(word, go, n, ping) {
  startLine(go);
  for (let i = 0; i < n; i++) {
    if (ping) {
      Atomics.store(word, 0, 1);
      Atomics.notify(word, 0);
      rawWaitWhile(word, 1);
    } else {
      rawWaitWhile(word, 0);
      Atomics.store(word, 0, 0);
      Atomics.notify(word, 0);
    }
  }
}

/** Event ping-pong: set theirs, wait for mine, clear it (the ponger waits first). */
export function eventPingPong([mine, theirs], go, n, ping) {
  startLine(go);
  for (let i = 0; i < n; i++) {
    if (ping) theirs.set();
    if (!mine.waitSync({ timeout: 30_000 })) throw new Error('eventPingPong: timed out');
    mine.clear();
    if (!ping) theirs.set();
  }
}

export { Event };
