// core's liveness tick (liveness.ts, onLivenessTick): the periodic check an
// async waiter registers instead of parking with a short waitAsync timeout.
import { describe, expect, it } from 'vitest';
import { LIVENESS_TICK, onLivenessTick } from '@conc/core';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('onLivenessTick', () => {
  it('runs each registered check every tick until it is unregistered; one that throws does not stop the others', async () => {
    let a = 0;
    let b = 0;
    const stopA = onLivenessTick(() => {
      a++;
    });
    const stopThrower = onLivenessTick(() => {
      throw new Error('a failing check');
    });
    const stopB = onLivenessTick(() => {
      b++;
    });
    const keepAlive = setTimeout(() => {}, 10_000); // the tick's interval is unref'd
    try {
      const deadline = performance.now() + 5_000;
      while ((a < 3 || b < 3) && performance.now() < deadline) await pause(10);
      expect(a).toBeGreaterThanOrEqual(3);
      expect(b).toBeGreaterThanOrEqual(3);
      stopA();
      const atStop = a;
      const bAtStop = b;
      await pause(4 * LIVENESS_TICK);
      expect(a).toBe(atStop);
      expect(b).toBeGreaterThan(bAtStop);
    } finally {
      stopB();
      stopThrower();
      clearTimeout(keepAlive);
    }
    const bAfter = b;
    await pause(4 * LIVENESS_TICK);
    expect(b).toBe(bAfter);
  }, 10_000);
});
