import { describe, expect, it } from 'vitest';
import { Event } from '@conc/event';
import { beforeTimeout, finish, fixture, run, sharedInts, spawn, until, within } from './helpers';

/** The number of registered waiters (internal word 1 of the layout in event.ts). */
function waiters(event: Event): number {
  return Atomics.load(event.words, 1);
}

describe('Event on one thread', () => {
  it('starts unset; set raises the flag, clear lowers it, both are idempotent', () => {
    const event = new Event();
    expect(event.isSet()).toBe(false);
    expect(String(event)).toBe('Event(unset)');
    event.set();
    event.set();
    expect(event.isSet()).toBe(true);
    expect(String(event)).toBe('Event(set)');
    event.clear();
    event.clear();
    expect(event.isSet()).toBe(false);
    event.set();
    expect(event.isSet()).toBe(true);
  });

  it('waits on a set event return true at once, whatever the timeout', async () => {
    const event = new Event();
    event.set();
    expect(event.waitSync()).toBe(true);
    expect(event.waitSync({ timeout: 0 })).toBe(true);
    expect(await event.wait()).toBe(true);
    expect(await event.wait({ timeout: 0 })).toBe(true);
    expect(event.isSet()).toBe(true);
  });

  it('waits on an unset event return false when the timeout passes', async () => {
    const event = new Event();
    expect(event.waitSync({ timeout: 0 })).toBe(false);
    expect(await event.wait({ timeout: 0 })).toBe(false);
    const t0 = performance.now();
    expect(event.waitSync({ timeout: 40 })).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    expect(await event.wait({ timeout: 40 })).toBe(false);
    expect(waiters(event)).toBe(0);
  }, 5_000);

  it('clear makes later waits block until their timeout', async () => {
    const event = new Event();
    event.set();
    event.clear();
    expect(event.waitSync({ timeout: 30 })).toBe(false);
    expect(await event.wait({ timeout: 30 })).toBe(false);
  }, 5_000);

  it('set wakes every async waiter on the main thread', async () => {
    const event = new Event();
    const ps = Array.from({ length: 5 }, () => event.wait({ timeout: 20_000 }));
    await new Promise((r) => setTimeout(r, 20));
    expect(waiters(event)).toBe(5);
    event.set();
    expect(await within(Promise.all(ps), 5_000, 'the woken waits')).toEqual([true, true, true, true, true]);
    expect(waiters(event)).toBe(0);
  }, 15_000);

  it('a set immediately followed by clear still releases the waiters it found, with true (as Python)', async () => {
    const event = new Event();
    const ps = [event.wait({ timeout: 20_000 }), event.wait({ timeout: 20_000 })];
    await new Promise((r) => setTimeout(r, 20));
    event.set();
    event.clear();
    expect(await within(Promise.all(ps), 5_000, 'the woken waits')).toEqual([true, true]);
    expect(event.isSet()).toBe(false);
    expect(await event.wait({ timeout: 20 })).toBe(false);
  }, 15_000);
});

describe('Event: bad input and abort', () => {
  it.each([-1, -0.001, Number.NaN, Number.NEGATIVE_INFINITY])(
    'waitSync({ timeout: %s }) throws RangeError, even when set',
    (timeout) => {
      const event = new Event();
      expect(() => event.waitSync({ timeout })).toThrow(/Event\.waitSync: timeout/);
      event.set();
      expect(() => event.waitSync({ timeout })).toThrow(RangeError);
    },
  );

  it.each([-1, Number.NaN])('wait({ timeout: %s }) returns a promise that rejects with RangeError', async (timeout) => {
    const event = new Event();
    let p!: Promise<boolean>;
    expect(() => {
      p = event.wait({ timeout });
    }).not.toThrow();
    await expect(p).rejects.toThrow(/Event\.wait: timeout/);
    event.set();
    await expect(event.wait({ timeout })).rejects.toThrow(RangeError);
  });

  it('options that are not an object, or a signal that is not an AbortSignal, are TypeErrors', async () => {
    const event = new Event();
    expect(() => event.waitSync('soon' as never)).toThrow(TypeError);
    await expect(event.wait(null as never)).rejects.toThrow(TypeError);
    await expect(event.wait({ signal: {} as never })).rejects.toThrow(/signal must be an AbortSignal/);
  });

  it('an already-aborted signal rejects with its reason (set or not) and changes nothing', async () => {
    const event = new Event();
    const reason = new Error('cancelled before');
    await expect(event.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    event.set();
    await expect(event.wait({ signal: AbortSignal.abort('a string') })).rejects.toBe('a string');
    expect(event.isSet()).toBe(true);
    expect(waiters(event)).toBe(0);
  });

  it('aborting while waiting rejects promptly with the reason; other waiters are still woken by set', async () => {
    const event = new Event();
    const ac = new AbortController();
    const reason = new Error('cancelled while waiting');
    const aborted = event.wait({ signal: ac.signal, timeout: 20_000 });
    const live = event.wait({ timeout: 20_000 });
    const counter = sharedInts(1);
    const worker = spawn(fixture('waitFor'), [event, counter, 25_000, 'sync']);
    await until(event.words, 1, 3);
    ac.abort(reason);
    await expect(within(aborted, 5_000, 'the aborted wait')).rejects.toBe(reason);
    expect(waiters(event)).toBe(2);
    event.set();
    expect(await within(live, 5_000, 'the live wait')).toBe(true);
    expect(await finish(worker)).toBe(true);
    expect(counter[0]).toBe(1);
  }, 30_000);
});

describe('Event across threads', () => {
  it.each(['sync', 'async'])(
    'set on main wakes %s waiters in four threads',
    async (mode) => {
      // each worker waits 25 s, longer than finish() waits for it: a lost wake-up fails the join
      const event = new Event();
      const counter = sharedInts(1);
      const threads = Array.from({ length: 4 }, () => spawn(fixture('waitFor'), [event, counter, 25_000, mode]));
      await until(event.words, 1, 4); // all four registered as waiters
      expect(counter[0]).toBe(0);
      event.set();
      expect(await Promise.all(threads.map((t) => finish(t)))).toEqual([true, true, true, true]);
      expect(counter[0]).toBe(4);
      expect(waiters(event)).toBe(0);
    },
    30_000,
  );

  it('after clear, waits in four threads time out with false', async () => {
    const event = new Event();
    event.set();
    event.clear();
    const counter = sharedInts(1);
    const threads = ['sync', 'async', 'sync', 'async'].map((mode) =>
      spawn(fixture('waitFor'), [event, counter, 50, mode]),
    );
    expect(await Promise.all(threads.map((t) => finish(t)))).toEqual([false, false, false, false]);
    expect(counter[0]).toBe(0);
  }, 20_000);

  it('an async wait on main is resolved by a set in a worker', async () => {
    const event = new Event();
    const setter = spawn(fixture('setLater'), [event, 30]);
    expect(await within(event.wait({ timeout: 20_000 }), 10_000, 'the wait')).toBe(true);
    expect(await finish(setter)).toBe(true);
  }, 15_000);

  it('a main thread blocked in waitSync is woken by a set in a worker', async () => {
    const event = new Event();
    const setter = spawn(fixture('setLater'), [event, 50]);
    expect(beforeTimeout(10_000, (timeout) => event.waitSync({ timeout }))).toBe(true);
    expect(await finish(setter)).toBe(true);
  }, 15_000);

  it('a clear in a worker makes later waits on main time out', async () => {
    const event = new Event();
    event.set();
    expect(await run(fixture('clearIt'), [event])).toBe(true);
    expect(event.isSet()).toBe(false);
    expect(event.waitSync({ timeout: 20 })).toBe(false);
    expect(await event.wait({ timeout: 20 })).toBe(false);
  }, 15_000);

  it.each(['sync', 'async'])(
    '20 000 %s ping-pong rounds between two threads lose no wake-up',
    async (mode) => {
      const a = new Event();
      const b = new Event();
      const rounds = 20_000;
      const threads = [
        spawn(fixture('pingPong'), [a, b, rounds, true, mode]),
        spawn(fixture('pingPong'), [b, a, rounds, false, mode]),
      ];
      expect(await Promise.all(threads.map((t) => finish(t, 25_000)))).toEqual([rounds, rounds]);
    },
    30_000,
  );

  it('nested in args, an Event arrives as an Event over the same memory, and comes back as one', async () => {
    const event = new Event();
    const other = new Event();
    other.set();
    const result = await run(fixture('describeArgs'), [{ a: [event, 'plain'], b: { c: other } }]);
    expect(result).toEqual({ isEvent: true, nestedIsEvent: true, plain: 'plain', sawSet: true });
    expect(event.isSet()).toBe(true); // set through the worker's copy
    const back = await run<{ x: Event[] }>(fixture('echo'), [{ x: [event] }]);
    expect(back.x[0]).toBeInstanceOf(Event);
    expect(back.x[0]).not.toBe(event);
    back.x[0].clear();
    expect(event.isSet()).toBe(false);
  }, 15_000);
});
