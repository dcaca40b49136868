// DESIGN.md, "Death": Lock and RLock are robust. A holder thread that died
// (terminated, process.exit(), its target threw) is detected, and the next
// acquirer gets the lock with `abandoned === true`. A Lock holder whose target
// RETURNED leaves it held (Python); an RLock owner that ended in any way leaves
// it abandoned (only its owner could have released it).
import { Lock, RLock } from '@conc/lock';
import { Thread } from '@conc/thread';
import { describe, expect, it } from 'vitest';
import { sharedInts, within } from './helpers';

type AnyLock = Lock | RLock;

/** Start a thread that takes `lock`, flags word [0] = 1, then ends as `how`. */
function holder(lock: AnyLock, flag: Int32Array, how: 'exit' | 'throw' | 'hang' | 'return') {
  return new Thread({
    target: (l: any, f: Int32Array, how: string) => {
      l.acquireSync();
      Atomics.store(f, 0, 1);
      Atomics.notify(f, 0);
      if (how === 'exit') process.exit(3);
      if (how === 'throw') throw new Error('holder failed');
      if (how === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      return 'returned holding it';
    },
    args: [lock, flag, how],
  }).start();
}

async function held(flag: Int32Array) {
  const deadline = Date.now() + 10_000;
  while (Atomics.load(flag, 0) !== 1) {
    if (Date.now() > deadline) throw new Error('the holder thread never took the lock');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe.each([
  ['Lock', () => new Lock()],
  ['RLock', () => new RLock()],
] as const)('%s held by a thread that dies', (_name, make) => {
  it.each(['exit', 'throw', 'hang'] as const)(
    'a holder ended by %s: the next acquire (async and sync, 5 rounds) takes it, abandoned',
    async (how) => {
      for (let round = 0; round < 5; round++) {
        const lock = make();
        const flag = sharedInts(1);
        const t = holder(lock, flag, how);
        await held(flag);
        expect(lock.locked).toBe(true);
        const pending = round % 2 === 0 ? lock.acquire({ timeout: 5000 }) : null;
        if (how === 'hang') await (t as any).worker.terminate();
        await t.join({ timeout: 5000 }).catch(() => {});
        const got = pending ? await within(pending, 6000, 'acquire') : lock.acquireSync({ timeout: 5000 });
        expect(got).toBe(true);
        expect(lock.abandoned).toBe(true);
        lock.release();
        expect(lock.abandoned).toBe(false);
        expect(lock.locked).toBe(false);
        // and it works as usual afterwards
        expect(lock.tryAcquire()).toBe(true);
        expect(lock.abandoned).toBe(false);
        lock.release();
      }
    },
    60_000,
  );

  it('two waiters on a lock whose holder died: exactly one inherits it, the other gets it after', async () => {
    for (let round = 0; round < 5; round++) {
      const lock = make();
      const flag = sharedInts(1);
      const t = holder(lock, flag, 'hang');
      await held(flag);
      const counter = sharedInts(2);
      const waiters = [0, 1].map(() =>
        new Thread({
          target: (l: any, c: Int32Array) => {
            if (!l.acquireSync({ timeout: 5000 })) return 'timed out';
            const inherited = l.abandoned;
            const inside = Atomics.add(c, 0, 1);
            Atomics.wait(c, 1, 0, 30); // hold it a little: two holders would overlap here
            Atomics.sub(c, 0, 1);
            l.release();
            return inside === 0 ? (inherited ? 'inherited' : 'clean') : 'overlap';
          },
          args: [lock, counter],
        }).start(),
      );
      await new Promise((r) => setTimeout(r, 50));
      await (t as any).worker.terminate();
      const results = [];
      for (const w of waiters) {
        expect(await w.join({ timeout: 10_000 })).toBe(true);
        results.push(w.result);
      }
      expect(results.sort()).toEqual(['clean', 'inherited']);
      expect(lock.locked).toBe(false);
    }
  }, 60_000);
});

describe('a thread that returns while holding', () => {
  it('a Lock stays held (Python: any thread may release it) and is not abandoned', async () => {
    const lock = new Lock();
    const flag = sharedInts(1);
    const t = holder(lock, flag, 'return');
    expect(await t.join({ timeout: 5000 })).toBe(true);
    expect(t.result).toBe('returned holding it');
    expect(lock.locked).toBe(true);
    expect(lock.acquireSync({ timeout: 400 })).toBe(false);
    expect(await lock.acquire({ timeout: 300 })).toBe(false);
    lock.release(); // another thread may release a Lock
    expect(lock.acquireSync({ timeout: 100 })).toBe(true);
    expect(lock.abandoned).toBe(false);
    lock.release();
  }, 20_000);

  it('an RLock is abandoned: its owner ended and nobody else can release it', async () => {
    const lock = new RLock();
    const flag = sharedInts(1);
    const t = holder(lock, flag, 'return');
    expect(await t.join({ timeout: 5000 })).toBe(true);
    expect(lock.acquireSync({ timeout: 5000 })).toBe(true);
    expect(lock.abandoned).toBe(true);
    expect(lock.isOwned()).toBe(true);
    expect(lock.recursionLevel).toBe(1);
    lock.release();
    expect(lock.locked).toBe(false);
  }, 20_000);
});

describe('a live holder is never taken over', () => {
  it('a thread holding a Lock for 600 ms keeps it: waiters time out, then get it un-abandoned', async () => {
    const lock = new Lock();
    const flag = sharedInts(2);
    const t = new Thread({
      target: (l: any, f: Int32Array) => {
        l.acquireSync();
        Atomics.store(f, 0, 1);
        Atomics.wait(f, 1, 0, 600);
        l.release();
      },
      args: [lock, flag],
    }).start();
    await held(flag);
    expect(lock.acquireSync({ timeout: 350 })).toBe(false);
    expect(await lock.acquire({ timeout: 5000 })).toBe(true);
    expect(lock.abandoned).toBe(false);
    lock.release();
    expect(await t.join({ timeout: 5000 })).toBe(true);
  }, 20_000);
});
