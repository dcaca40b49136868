// Thread targets for the condition and barrier rows (loaded by module
// reference in the workers).
import { Barrier } from '@conc/barrier';
import { Condition } from '@conc/condition';

/** Both sides wait here so the clock starts with both threads running. */
export function startLine(go) {
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 0) < 2) Atomics.wait(go, 0, 1, 5);
}

/**
 * Condition ping-pong, the textbook way: under the condition's lock, wait
 * until turn[0] is mine, hand the turn over, notify. n turns each = n round trips.
 */
export function conditionPingPong(cond, turn, go, n, me) {
  startLine(go);
  const other = 1 - me;
  for (let i = 0; i < n; i++) {
    cond.acquireSync();
    while (turn[0] !== me) {
      if (!cond.waitSync({ timeout: 30_000 })) throw new Error('conditionPingPong: timed out');
    }
    turn[0] = other;
    cond.notify();
    cond.release();
  }
}

/**
 * The raw baseline: one shared word holds whose turn it is; wait for mine by
 * spinning up to 2000 loads, then Atomics.wait; hand over with store + notify.
 */
export function rawPingPong(turn, go, n, me) {
  startLine(go);
  const other = 1 - me;
  for (let i = 0; i < n; i++) {
    for (;;) {
      const v = Atomics.load(turn, 0);
      if (v === me) break;
      let spins = 0;
      while (spins < 2000 && Atomics.load(turn, 0) === v) spins++;
      if (spins === 2000) Atomics.wait(turn, 0, v);
    }
    Atomics.store(turn, 0, other);
    Atomics.notify(turn, 0);
  }
}

/** n rounds at the barrier. */
export function barrierRounds(barrier, go, n) {
  startLine(go);
  for (let i = 0; i < n; i++) barrier.waitSync({ timeout: 30_000 });
}

export { Barrier, Condition };
