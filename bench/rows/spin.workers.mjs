// Thread targets for the spin row (loaded by module reference in the workers).
import { AdaptiveSpin, waitSync, wake } from '@conc/core';
import { rawPingPong, startLine } from './condition.workers.mjs';

/**
 * Ping-pong with core's AdaptiveSpin, then a park (waitSync with no spin of
 * its own), as Condition and Barrier wait; returns the budget it ended with.
 */
export function adaptivePingPong(turn, go, n, me) {
  const spin = new AdaptiveSpin();
  startLine(go);
  const other = 1 - me;
  for (let i = 0; i < n; i++) {
    for (let v = Atomics.load(turn, 0); v !== me; v = Atomics.load(turn, 0)) {
      if (!spin.whileEqual(turn, 0, v)) waitSync(turn, 0, v, Number.POSITIVE_INFINITY, 0);
    }
    Atomics.store(turn, 0, other);
    wake(turn, 0);
  }
  return spin.budget;
}

/** The fixed-spin baseline (2000 polls, then park), as the ping-pong rows' raw baseline. */
export function fixedPingPong(turn, go, n, me) {
  rawPingPong(turn, go, n, me);
  return 2000;
}
