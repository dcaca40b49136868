// Bad options and bad items, called in a Thread and in a child Process: the
// same error class and message from the call that caused it, and nothing
// changed, in both (a child checks with the same functions a thread does,
// before anything is sent).
import { Barrier } from '@conc/barrier';
import { Condition } from '@conc/condition';
import { Event } from '@conc/event';
import { Lock, RLock } from '@conc/lock';
import { Process } from '@conc/process';
import { JoinableQueue, Queue } from '@conc/queue';
import { Semaphore } from '@conc/semaphore';
import { Thread } from '@conc/thread';
import { describe, expect, it, onTestFinished } from 'vitest';
import { cases } from './fixtures/badcalls.mjs';

const target = { module: new URL('./fixtures/badcalls.mjs', import.meta.url).href, export: 'badCalls' };
const names = [...Object.keys(cases), 'innocent put'];

function primitives() {
  const bounded = new Queue(1);
  bounded.putNowait('full');
  return {
    lock: new Lock(),
    rlock: new RLock(),
    sem: new Semaphore(1),
    ev: new Event(),
    cond: new Condition(),
    barrier: new Barrier(2),
    q: new Queue(),
    bounded,
    small: new Queue(0, { byteCapacity: 1024 }),
    jq: new JoinableQueue(),
  };
}

/** Collect one report per case (a case that hangs shows as 'hung'). */
async function collect(out: Queue<any>): Promise<Record<string, unknown>[]> {
  const got: Record<string, unknown>[] = [];
  for (const name of names) {
    try {
      got.push(await out.get({ timeout: 5000 }));
    } catch {
      got.push({ name, hung: true });
      break;
    }
  }
  return got;
}

/** What the calls could have changed. */
function state(p: ReturnType<typeof primitives>) {
  const small: unknown[] = [];
  while (p.small.qsize() > 0) small.push(p.small.getNowait());
  return {
    lock: p.lock.locked,
    rlock: p.rlock.locked,
    sem: p.sem.value,
    ev: p.ev.isSet(),
    cond: p.cond.lock.locked,
    barrier: p.barrier.nWaiting,
    q: p.q.qsize(),
    bounded: [p.bounded.qsize(), p.bounded.getNowait()],
    small,
    jq: p.jq.unfinishedTasks,
  };
}

const unchanged = {
  lock: false,
  rlock: false,
  sem: 1,
  ev: false,
  cond: false,
  barrier: 0,
  q: 0,
  bounded: [1, 'full'],
  small: ['innocent'],
  jq: 0,
};

describe('bad options and items: a child says what a thread says, and changes nothing', () => {
  it('every case of fixtures/badcalls.mjs, in a Thread and in a Process', async () => {
    const pt = primitives();
    const outT = new Queue<any>();
    const th = new Thread({ target, args: [pt, outT] }).start();
    const inThread = await collect(outT);
    expect(await th.join({ timeout: 20_000 })).toBe(true);
    expect(state(pt)).toEqual(unchanged);
    // The reference: each case is refused with an error; then the innocent put goes in.
    expect(inThread.map((r) => r.name)).toEqual(names);
    for (const r of inThread.slice(0, -1)) expect(r.error, `${r.name} in a Thread`).toBeTypeOf('string');

    const pp = primitives();
    const outP = new Queue<any>();
    const proc = new Process({ target, args: [pp, outP] }).start();
    onTestFinished(() => {
      if (proc.isAlive()) proc.kill();
    });
    const inProcess = await collect(outP);
    for (let i = 0; i < names.length; i++) {
      expect(inProcess[i], `${names[i]} in a Process`).toEqual(inThread[i]);
    }
    expect(await proc.join({ timeout: 20_000 })).toBe(true);
    expect(proc.exitCode).toBe(0);
    expect(state(pp)).toEqual(unchanged);
  }, 60_000);
});
