// One rule for the options of every waiting method of every primitive
// (DESIGN.md, "Conventions for every primitive"):
//   - a timeout that is not a number ('100', null, true, 10n, {}) throws TypeError ("must be a number");
//   - a negative or NaN timeout throws RangeError;
//   - options that are not an object, or a signal that is not an AbortSignal, throw TypeError;
//   - a Sync method given a signal (any signal, aborted or not) throws TypeError;
//   - an async method rejects (never throws synchronously), with signal.reason for an aborted signal;
//   - and in every case nothing changes: no lock taken, no permit, no item put or taken, no waiter left.
import { Barrier } from '@conc/barrier';
import { Condition } from '@conc/condition';
import { Event } from '@conc/event';
import { Lock, RLock } from '@conc/lock';
import { Process } from '@conc/process';
import { JoinableQueue, Queue } from '@conc/queue';
import { BoundedSemaphore, Semaphore } from '@conc/semaphore';
import { Thread } from '@conc/thread';
import { beforeAll, describe, expect, it } from 'vitest';

type Call = (options: unknown) => unknown;
interface Case {
  /** e.g. 'Lock.acquireSync' */
  name: string;
  sync: boolean;
  /** A fresh setup: the call to make with bad options, and a check that nothing changed. */
  make: () => { call: Call; unchanged: () => void };
}

const finished = new Thread({ target: () => 1 });
const finishedProcess = new Process({ target: () => {} });
beforeAll(async () => {
  finished.start();
  expect(await finished.join({ timeout: 15_000 })).toBe(true);
  finishedProcess.start();
  expect(await finishedProcess.join({ timeout: 20_000 })).toBe(true);
});

function lockCases(name: string, Cls: typeof Lock | typeof RLock): Case[] {
  return (['acquire', 'acquireSync'] as const).map((m) => ({
    name: `${name}.${m}`,
    sync: m.endsWith('Sync'),
    make: () => {
      const lock = new Cls();
      return {
        call: (o) => (lock as any)[m](o),
        unchanged: () => expect(lock.locked).toBe(false),
      };
    },
  }));
}

function guardCases(name: string, make: () => { acquirable: any; unchanged: () => void }): Case[] {
  return (['guard', 'guardSync', 'withLock', 'withLockSync'] as const).map((m) => ({
    name: `${name}.${m}`,
    sync: m.endsWith('Sync'),
    make: () => {
      const { acquirable, unchanged } = make();
      let ran = false;
      return {
        call: (o) => (m.startsWith('with') ? acquirable[m](() => (ran = true), o) : acquirable[m](o)),
        unchanged: () => {
          expect(ran).toBe(false);
          unchanged();
        },
      };
    },
  }));
}

function semaphoreCases(name: string, Cls: typeof Semaphore | typeof BoundedSemaphore): Case[] {
  return (['acquire', 'acquireSync'] as const).map((m) => ({
    name: `${name}.${m}`,
    sync: m.endsWith('Sync'),
    make: () => {
      const sem = new Cls(1);
      return { call: (o) => (sem as any)[m](o), unchanged: () => expect(sem.value).toBe(1) };
    },
  }));
}

function queueCases(name: string, Cls: typeof Queue): Case[] {
  const cases: Case[] = [];
  for (const m of ['put', 'putSync'] as const) {
    cases.push({
      name: `${name}.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const q = new Cls<number>();
        return { call: (o) => (q as any)[m](1, o), unchanged: () => expect(q.qsize()).toBe(0) };
      },
    });
  }
  for (const m of ['get', 'getSync'] as const) {
    cases.push({
      name: `${name}.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const q = new Cls<number>();
        q.putNowait(7);
        return {
          call: (o) => (q as any)[m](o),
          unchanged: () => {
            expect(q.qsize()).toBe(1);
            expect(q.getNowait()).toBe(7);
          },
        };
      },
    });
  }
  return cases;
}

const cases: Case[] = [
  ...lockCases('Lock', Lock),
  ...lockCases('RLock', RLock),
  ...guardCases('Lock', () => {
    const lock = new Lock();
    return { acquirable: lock, unchanged: () => expect(lock.locked).toBe(false) };
  }),
  ...guardCases('RLock', () => {
    const lock = new RLock();
    return { acquirable: lock, unchanged: () => expect(lock.locked).toBe(false) };
  }),
  ...semaphoreCases('Semaphore', Semaphore),
  ...semaphoreCases('BoundedSemaphore', BoundedSemaphore),
  ...guardCases('Semaphore', () => {
    const sem = new Semaphore(1);
    return { acquirable: sem, unchanged: () => expect(sem.value).toBe(1) };
  }),
  ...(['wait', 'waitSync'] as const).map(
    (m): Case => ({
      name: `Event.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const ev = new Event();
        return { call: (o) => (ev as any)[m](o), unchanged: () => expect(ev.isSet()).toBe(false) };
      },
    }),
  ),
  ...(['acquire', 'acquireSync'] as const).map(
    (m): Case => ({
      name: `Condition.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const lock = new Lock();
        const cond = new Condition(lock);
        return { call: (o) => (cond as any)[m](o), unchanged: () => expect(lock.locked).toBe(false) };
      },
    }),
  ),
  ...guardCases('Condition', () => {
    const lock = new Lock();
    return { acquirable: new Condition(lock), unchanged: () => expect(lock.locked).toBe(false) };
  }),
  ...(['wait', 'waitSync', 'waitFor', 'waitForSync'] as const).map(
    (m): Case => ({
      name: `Condition.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const lock = new RLock();
        const cond = new Condition(lock);
        cond.acquireSync();
        let asked = 0;
        const predicate = () => {
          asked++;
          return false;
        };
        return {
          call: (o) => (m.startsWith('waitFor') ? (cond as any)[m](predicate, o) : (cond as any)[m](o)),
          unchanged: () => {
            expect(asked).toBe(0);
            // Still held, once, by this thread; the lock was never let go.
            expect(lock.isOwned()).toBe(true);
            cond.release();
            expect(lock.locked).toBe(false);
          },
        };
      },
    }),
  ),
  ...(['wait', 'waitSync'] as const).map(
    (m): Case => ({
      name: `Barrier.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const barrier = new Barrier(2);
        return {
          call: (o) => (barrier as any)[m](o),
          unchanged: () => {
            expect(barrier.nWaiting).toBe(0);
            expect(barrier.broken).toBe(false);
          },
        };
      },
    }),
  ),
  ...queueCases('Queue', Queue),
  ...queueCases('JoinableQueue', JoinableQueue),
  ...(['join', 'joinSync'] as const).map(
    (m): Case => ({
      name: `JoinableQueue.${m}`,
      sync: m.endsWith('Sync'),
      make: () => {
        const q = new JoinableQueue<number>();
        q.putNowait(1);
        return {
          call: (o) => (q as any)[m](o),
          unchanged: () => {
            expect(q.qsize()).toBe(1);
            q.getNowait();
            q.taskDone();
            expect(q.joinSync({ timeout: 0 })).toBe(true);
          },
        };
      },
    }),
  ),
  ...(['join', 'joinSync'] as const).map(
    (m): Case => ({
      name: `Thread.${m}`,
      sync: m.endsWith('Sync'),
      make: () => ({ call: (o) => (finished as any)[m](o), unchanged: () => expect(finished.isAlive()).toBe(false) }),
    }),
  ),
  {
    name: 'Process.join',
    sync: false,
    make: () => ({
      call: (o) => finishedProcess.join(o as any),
      unchanged: () => expect(finishedProcess.exitCode).toBe(0),
    }),
  },
];

const notNumbers: [string, unknown][] = [
  ["'100'", '100'],
  ['null', null],
  ['true', true],
  ['10n', 10n],
  ['{}', {}],
  ['[5]', [5]],
];
const outOfRange: [string, unknown][] = [
  ['-1', -1],
  ['NaN', Number.NaN],
  ['-Infinity', Number.NEGATIVE_INFINITY],
];
const notOptions: [string, unknown][] = [
  ['5', 5],
  ["'x'", 'x'],
  ['null', null],
];

/** What the call does, as one value: thrown synchronously, rejected, or returned. */
async function outcomeOf(c: Case, options: unknown) {
  const { call, unchanged } = c.make();
  let thrown: unknown;
  let rejected: unknown;
  let returned: unknown;
  let sync = true;
  try {
    const r = call(options);
    if (r instanceof Promise) {
      sync = false;
      try {
        returned = await r;
      } catch (e) {
        rejected = e;
      }
    } else returned = r;
  } catch (e) {
    thrown = e;
  }
  unchanged();
  return { sync, thrown, rejected, returned, error: (thrown ?? rejected) as Error | undefined };
}

describe('options of every waiting method', () => {
  it('the table covers every waiting method of every primitive', () => {
    const guards = ['guard', 'guardSync', 'withLock', 'withLockSync'];
    const expected: Record<string, string[]> = {
      Lock: ['acquire', 'acquireSync', ...guards],
      RLock: ['acquire', 'acquireSync', ...guards],
      Semaphore: ['acquire', 'acquireSync', ...guards],
      BoundedSemaphore: ['acquire', 'acquireSync'], // guards: inherited from Semaphore, covered there
      Event: ['wait', 'waitSync'],
      Condition: ['acquire', 'acquireSync', ...guards, 'wait', 'waitSync', 'waitFor', 'waitForSync'],
      Barrier: ['wait', 'waitSync'],
      Queue: ['put', 'putSync', 'get', 'getSync'],
      JoinableQueue: ['put', 'putSync', 'get', 'getSync', 'join', 'joinSync'],
      Thread: ['join', 'joinSync'],
      Process: ['join'],
    };
    const names = Object.entries(expected).flatMap(([cls, ms]) => ms.map((m) => `${cls}.${m}`));
    expect(cases.map((c) => c.name).sort()).toEqual(names.sort());
  });

  for (const c of cases) {
    describe(c.name, () => {
      it.each(notNumbers)('timeout %s: TypeError "must be a number", nothing changed', async (_, timeout) => {
        const r = await outcomeOf(c, { timeout });
        expect(r.error).toBeInstanceOf(TypeError);
        expect(r.error!.message).toMatch(/timeout must be a number/);
        // The message names the class whose method was called (a guard names the acquire it made).
        expect(r.error!.message.startsWith(`${c.name.split('.')[0]}.`)).toBe(true);
        // An async method rejects, a Sync one throws.
        if (c.sync) expect(r.thrown).toBe(r.error);
        else expect(r.rejected).toBe(r.error);
      });

      it.each(outOfRange)('timeout %s: RangeError, nothing changed', async (_, timeout) => {
        const r = await outcomeOf(c, { timeout });
        expect(r.error).toBeInstanceOf(RangeError);
        expect(r.error!.message).toMatch(/timeout must be a non-negative number/);
        if (c.sync) expect(r.thrown).toBe(r.error);
        else expect(r.rejected).toBe(r.error);
      });

      it.each(notOptions)('options %s: TypeError, nothing changed', async (_, options) => {
        const r = await outcomeOf(c, options);
        expect(r.error).toBeInstanceOf(TypeError);
        expect(r.error!.message).toMatch(/options must be an object/);
      });

      it("signal 'x': TypeError, nothing changed", async () => {
        const r = await outcomeOf(c, { signal: 'x' });
        expect(r.error).toBeInstanceOf(TypeError);
        expect(r.error!.message).toMatch(/signal/);
      });

      if (c.sync) {
        it.each([
          ['a live signal', () => new AbortController().signal],
          ['an aborted signal', () => AbortSignal.abort()],
        ])('%s: TypeError (a blocked thread cannot observe it), nothing changed', async (_, signal) => {
          const r = await outcomeOf(c, { signal: signal(), timeout: 0 });
          expect(r.thrown).toBeInstanceOf(TypeError);
          expect((r.thrown as Error).message).toMatch(/cannot take a signal; use the async method/);
        });
      } else {
        it('an aborted signal: rejects with signal.reason, nothing changed', async () => {
          const reason = new Error('stop');
          const r = await outcomeOf(c, { signal: AbortSignal.abort(reason) });
          expect(r.rejected).toBe(reason);
        });
      }
    });
  }
});

// withLockSync runs fn while holding the primitive and releases when fn
// returns: an async fn would run its tail after the release. It is refused.
describe('withLockSync refuses async work', () => {
  const holders: [string, () => { it: any; held: () => boolean }][] = [
    [
      'Lock',
      () => {
        const l = new Lock();
        return { it: l, held: () => l.locked };
      },
    ],
    [
      'RLock',
      () => {
        const l = new RLock();
        return { it: l, held: () => l.locked };
      },
    ],
    [
      'Semaphore',
      () => {
        const s = new Semaphore(1);
        return { it: s, held: () => s.value === 0 };
      },
    ],
    [
      'BoundedSemaphore',
      () => {
        const s = new BoundedSemaphore(1);
        return { it: s, held: () => s.value === 0 };
      },
    ],
    [
      'Condition',
      () => {
        const l = new Lock();
        return { it: new Condition(l), held: () => l.locked };
      },
    ],
  ];

  for (const [name, make] of holders) {
    it(`${name}: an async function is refused with TypeError before acquiring (fn not called)`, () => {
      for (const fn of [
        async () => 1,
        async function named() {
          return 1;
        },
        async function* gen() {},
      ]) {
        const { it: p, held } = make();
        let acquired = false;
        const acquireSync = p.acquireSync.bind(p);
        p.acquireSync = (o: unknown) => {
          acquired = true;
          return acquireSync(o);
        };
        expect(() => p.withLockSync(fn)).toThrow(TypeError);
        expect(() => p.withLockSync(fn)).toThrow(/async function.*use withLock/);
        expect(acquired).toBe(false);
        expect(held()).toBe(false);
      }
    });

    it(`${name}: a function that returns a promise or thenable: released, then TypeError saying to use withLock`, () => {
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this case is about
      const thenable = { then() {} };
      for (const value of [Promise.resolve(1), thenable]) {
        const { it: p, held } = make();
        let calls = 0;
        let heldInside = false;
        const e = thrown(() =>
          p.withLockSync(() => {
            calls++;
            heldInside = held();
            return value;
          }),
        );
        expect(e).toBeInstanceOf(TypeError);
        expect(e.message).toMatch(/returned a promise.*use withLock/);
        expect(calls).toBe(1);
        expect(heldInside).toBe(true);
        expect(held()).toBe(false); // released
      }
    });

    it(`${name}: fn that is not a function: TypeError, nothing acquired (withLock and withLockSync)`, async () => {
      for (const fn of [undefined, 5, 'f', {}]) {
        const { it: p, held } = make();
        expect(() => p.withLockSync(fn)).toThrow(/fn must be a function/);
        await expect(p.withLock(fn)).rejects.toThrow(/fn must be a function/);
        expect(held()).toBe(false);
      }
    });

    it(`${name}: a synchronous fn still works and its value is returned`, () => {
      const { it: p, held } = make();
      expect(p.withLockSync(() => (held() ? 'inside' : 'not held'))).toBe('inside');
      expect(held()).toBe(false);
    });
  }
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}
