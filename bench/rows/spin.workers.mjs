// Thread targets for the spin row (loaded by module reference in the workers).
import { threadSpin, waitSync, wake } from '@conc/core';
import { rawPingPong, startLine } from './condition.workers.mjs';

/**
 * Ping-pong through core's plain wait (waitSync: the thread's AdaptiveSpin,
 * then park); returns the spin budget the thread ended with.
 */
export function adaptivePingPong(turn, go, n, me) {
  startLine(go);
  const other = 1 - me;
  for (let i = 0; i < n; i++) {
    for (let v = Atomics.load(turn, 0); v !== me; v = Atomics.load(turn, 0)) {
      waitSync(turn, 0, v, Number.POSITIVE_INFINITY);
    }
    Atomics.store(turn, 0, other);
    wake(turn, 0);
  }
  return threadSpin.budget;
}

/** The fixed-spin baseline (2000 polls, then park), as the ping-pong rows' raw baseline. */
export function fixedPingPong(turn, go, n, me) {
  rawPingPong(turn, go, n, me);
  return 2000;
}
