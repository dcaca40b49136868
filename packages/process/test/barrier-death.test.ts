// A Barrier with a party in a child process that is SIGKILLed while waiting
// breaks: the other parties get BrokenBarrierError promptly, not at their
// timeout (DESIGN.md, "Death"; issue 11, item 4). On shared memory the
// waiters see the dead process through core's token registry; on the broker
// the broker breaks it. 3 rounds.
import { Barrier, BrokenBarrierError } from '@conc/barrier';
import { Process } from '@conc/process';
import { describe, expect, it } from 'vitest';
import { finish, until } from './helpers.js';

const fixtures = new URL('./fixtures/integrity.mjs', import.meta.url).href;

describe('a Barrier party in a child that is SIGKILLed while waiting', () => {
  it('breaks the barrier for the parent before its timeout; reset() makes it usable', async () => {
    for (let round = 0; round < 3; round++) {
      const b = new Barrier(3); // the child, this thread, and a third that never comes
      const p = new Process({ target: { module: fixtures, export: 'waitAtBarrier' }, args: [b] }).start();
      await until(() => b.nWaiting === 1, 20_000, 'the child waiting at the barrier');
      const started = Date.now();
      const mine = b.wait({ timeout: 8000 }).catch((e) => e);
      await until(() => b.nWaiting === 2, 5000, 'this thread waiting too');
      p.kill();
      await finish(p);
      const err = await mine;
      expect(err).toBeInstanceOf(BrokenBarrierError);
      expect(Date.now() - started).toBeLessThan(7000);
      expect(b.broken).toBe(true);
      b.reset();
      expect(b.broken).toBe(false);
    }
  }, 60_000);
});
