import './use-broker.js'; // first: these tests are about the broker (the fallback)
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { describe, expect, it } from 'vitest';
import { finish, targets } from './helpers.js';

const raw = new URL('./fixtures/raw.mjs', import.meta.url).href;

describe('broker', () => {
  it('answers malformed and unknown requests with errors and keeps serving everyone else', async () => {
    const lock = new Lock();
    const out = new Queue<any>();
    // A child's own raw connection, admitted with its key (the bridge's connection is another).
    const child = new Process({ target: { module: raw, export: 'malformed' }, args: [lock, out] }).start();
    const byCall = await out.get({ timeout: 20_000 });
    await finish(child);
    expect(child.exitCode).toBe(0);
    expect(byCall[5].e.message).toMatch(/malformed request/);
    expect(byCall[1].e.message).toMatch(/unknown request kind/);
    expect(byCall[2].e.message).toMatch(/no primitive with id/);
    expect(byCall[3].e.message).toMatch(/has no method noSuchMethod/);
    expect(byCall[4]).toEqual({ ok: true, v: true });
    // That connection took the lock; its close gives the lock back, flagged.
    const t = Date.now();
    while (lock.locked && Date.now() - t < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(lock.tryAcquire()).toBe(true);
    expect(lock.abandoned).toBe(true);
    lock.release();
    // Others are still served.
    const p = new Process({
      target: { module: targets, export: 'incrementUnderLock' },
      args: [lock, '/dev/null', 0],
    }).start();
    await finish(p);
    expect(p.exitCode).toBe(0);
  }, 30_000);
});
