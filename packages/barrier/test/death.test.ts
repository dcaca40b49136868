// DESIGN.md, "Death": a Barrier with a dead party breaks. A thread that ends
// while waiting at the barrier (terminated, process.exit(), its target threw)
// must not hold the round forever: the other parties get BrokenBarrierError
// promptly (not at their own timeout), and after reset() the barrier works.
import { Barrier, BrokenBarrierError } from '@conc/barrier';
import { Thread } from '@conc/thread';
import { describe, expect, it } from 'vitest';

function party(b: Barrier, how: 'terminate' | 'exit' | 'throw') {
  return new Thread({
    target: async (b: any, how: string) => {
      if (how === 'terminate') return b.waitSync();
      const pending = b.wait();
      setTimeout(() => {
        if (how === 'exit') process.exit(7);
        Promise.reject(new Error('the party failed')); // an unhandled rejection ends the thread
      }, 100);
      return await pending;
    },
    args: [b, how],
  }).start();
}

async function untilWaiting(b: Barrier, n: number) {
  const end = Date.now() + 10_000;
  while (b.nWaiting < n) {
    if (Date.now() > end) throw new Error(`never ${n} waiting (${b.nWaiting})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('a party that dies while waiting breaks the barrier', () => {
  it.each(['terminate', 'exit', 'throw'] as const)(
    'ended by %s: the others get BrokenBarrierError before their timeout; reset() makes it usable (3 rounds)',
    async (how) => {
      for (let round = 0; round < 3; round++) {
        const b = new Barrier(4); // the dying party, another thread, this one: the fourth never comes
        const dying = party(b, how);
        await untilWaiting(b, 1);
        const other = new Thread({
          target: (b: any) => {
            try {
              return b.waitSync({ timeout: 8000 });
            } catch (e: any) {
              return e.name;
            }
          },
          args: [b],
        }).start();
        await untilWaiting(b, 2);
        const started = Date.now();
        const mine = b.wait({ timeout: 8000 }).catch((e) => e);
        if (how === 'terminate') await (dying as any).worker.terminate();
        await dying.join({ timeout: 5000 }).catch(() => {});
        const err = await mine;
        expect(err).toBeInstanceOf(BrokenBarrierError);
        expect(Date.now() - started).toBeLessThan(7000); // broken by the death, not by the timeout
        expect(await other.join({ timeout: 9000 })).toBe(true);
        expect(other.result).toBe('BrokenBarrierError');
        expect(b.broken).toBe(true);
        b.reset();
        expect(b.broken).toBe(false);
        expect(b.nWaiting).toBe(0);
        // a full round with four live parties: indices 0..3 once each
        const threads = [0, 1, 2].map(() =>
          new Thread({ target: (b: any) => b.waitSync({ timeout: 5000 }), args: [b] }).start(),
        );
        const index = await b.wait({ timeout: 5000 });
        for (const t of threads) expect(await t.join({ timeout: 5000 })).toBe(true);
        expect([index, ...threads.map((t) => t.result as number)].sort()).toEqual([0, 1, 2, 3]);
      }
    },
    90_000,
  );

  it('a party terminated while others are arriving never wedges the barrier (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const b = new Barrier(2);
      const t = new Thread({
        target: (b: any) => {
          for (;;) {
            try {
              b.waitSync({ timeout: 2000 });
            } catch {
              b.reset();
            }
          }
        },
        args: [b],
      }).start();
      // meet it a few times, then kill it at a random moment
      for (let i = 0; i < 5; i++) await b.wait({ timeout: 5000 }).catch(() => {});
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      await (t as any).worker.terminate();
      // Whatever it was doing: if it had arrived, this wait completes the round
      // with that arrival (index 1); else the barrier is broken by its death or
      // this wait's timeout. Either way nothing hangs, and after reset() it works.
      const outcome = await b.wait({ timeout: 3000 }).catch((e) => e);
      if (typeof outcome === 'number') expect(outcome).toBe(1);
      else expect(outcome).toBeInstanceOf(BrokenBarrierError);
      b.reset();
      const t2 = new Thread({ target: (b: any) => b.waitSync({ timeout: 5000 }), args: [b] }).start();
      const i = await b.wait({ timeout: 5000 });
      expect(await t2.join({ timeout: 5000 })).toBe(true);
      expect([i, t2.result].sort()).toEqual([0, 1]);
    }
  }, 90_000);
});
