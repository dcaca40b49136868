// With the broker fallback disabled (CONC_BROKER=0), a child's calls on every
// primitive can only go through shared memory: on this machine (@conc/shm
// loads) they all work; without shared memory the start is refused with a
// clear error naming why (issue 11, "Done when" and "Bad input").
import { Barrier } from '@conc/barrier';
import { Condition } from '@conc/condition';
import { memoryBackend } from '@conc/core';
import { Event } from '@conc/event';
import { Lock, RLock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { Semaphore } from '@conc/semaphore';
import { afterEach, describe, expect, it } from 'vitest';
import { finish } from './helpers.js';

const fixtures = new URL('./fixtures/integrity.mjs', import.meta.url).href;

afterEach(() => {
  delete process.env.CONC_BROKER;
});

describe('the broker disabled (CONC_BROKER=0)', () => {
  it('Lock, RLock, Event, Semaphore, Condition, Barrier and Queue all work in a child, or the start says why not', async () => {
    process.env.CONC_BROKER = '0';
    const lock = new Lock();
    const rlock = new RLock();
    const ev = new Event();
    const sem = new Semaphore(1);
    const cond = new Condition();
    const barrier = new Barrier(2);
    const q = new Queue<string>();
    const out = new Queue<any>();
    const args = [lock, rlock, ev, sem, cond, barrier, q, out];
    const target = { module: fixtures, export: 'useEach' };
    if (memoryBackend().name !== 'shm') {
      expect(() => new Process({ target, args })).not.toThrow();
      expect(() => new Process({ target, args }).start()).toThrow(
        /args\[0\] is a Lock whose memory a child process cannot map \(no shared memory: .*\), and the broker fallback is disabled \(CONC_BROKER=0\)/,
      );
      return;
    }
    const p = new Process({ target, args }).start();
    ev.set();
    q.putNowait('item');
    expect(await barrier.wait({ timeout: 10_000 })).toBeGreaterThanOrEqual(0);
    const r = await out.get({ timeout: 10_000 });
    expect(r).toEqual({ got: 'item', brokerConnections: '0' });
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(sem.value).toBe(0); // the child's permit stays taken
    expect(lock.locked).toBe(false);
    expect(rlock.locked).toBe(false);
  }, 30_000);
});
