// A process SIGKILLed at a random instruction of a Queue put or get leaves the
// queue consistent (issue 11, item 4): an item is in it whole or not at all,
// nothing else is lost, and everyone else goes on using it. Many rounds, each
// killed at a random moment; runs on shared memory and on the broker.
import { Event } from '@conc/event';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { describe, expect, it } from 'vitest';
import { brokerMode, finish } from './helpers.js';

const fixtures = new URL('./fixtures/integrity.mjs', import.meta.url).href;
const t = (name: string) => ({ module: fixtures, export: name });
const whole = (x: any, i: number) =>
  x !== null && typeof x === 'object' && x.i === i && x.s === 'x'.repeat(i % 97) && x.tail[0] === i && x.tail[1] === -i;

async function killAtRandom(p: Process, started: Event, maxMs: number, q: Queue<any>): Promise<void> {
  expect(await started.wait({ timeout: 20_000 })).toBe(true);
  await new Promise((r) => setTimeout(r, Math.random() * maxMs));
  p.kill(); // SIGKILL, as Python's kill()
  await finish(p);
  expect(p.exitCode).toBe(-9);
  // On the broker a put the child sent before it died may still be on its
  // way ("a returned put is already on its way"): wait until nothing moves.
  for (let last = -1; last !== q.qsize(); ) {
    last = q.qsize();
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe('a process SIGKILLed inside put or get', () => {
  it('producers: what is in the queue is item 0, 1, ..., k-1, each whole; the queue works on', async () => {
    const rounds = brokerMode() ? 6 : 20;
    for (let round = 0; round < rounds; round++) {
      const q = new Queue<any>(round % 2 === 0 ? 0 : 64); // unbounded, and bounded (the producer blocks on a full ring)
      const started = new Event();
      const p = new Process({ target: t('putForever'), args: [q, started] }).start();
      if (round % 2 === 1) {
        // drain while it runs, so the kill also lands in a put that waited for room
        setTimeout(() => {
          while (q.qsize() > 32) q.getNowait();
        }, 5);
      }
      await killAtRandom(p, started, 40, q);
      const got: any[] = [];
      while (q.qsize() > 0) got.push(q.getNowait());
      if (round % 2 === 0) got.forEach((x, k) => expect(whole(x, k), JSON.stringify(x)).toBe(true));
      else for (let k = 1; k < got.length; k++) expect(got[k].i).toBe(got[k - 1].i + 1);
      for (const x of got) expect(whole(x, x.i), JSON.stringify(x)).toBe(true);
      q.putNowait(item(7));
      expect(whole(q.getNowait(), 7)).toBe(true);
      expect(q.qsize()).toBe(0);
    }
  }, 120_000);

  it('consumers: every item is either reported, still queued, or the one the dead taker held; none twice', async () => {
    const rounds = brokerMode() ? 6 : 20;
    const n = 3000;
    for (let round = 0; round < rounds; round++) {
      const q = new Queue<any>();
      const seen = new Queue<number>();
      for (let i = 0; i < n; i++) q.putNowait(item(i));
      const started = new Event();
      const p = new Process({ target: t('takeForever'), args: [q, seen, started] }).start();
      await killAtRandom(p, started, 30, seen);
      const reported: number[] = [];
      while (seen.qsize() > 0) reported.push(seen.getNowait());
      const left: any[] = [];
      while (q.qsize() > 0) left.push(q.getNowait());
      for (const x of left) expect(whole(x, x.i), JSON.stringify(x)).toBe(true);
      const all = [...reported, ...left.map((x) => x.i)];
      expect(new Set(all).size).toBe(all.length); // none twice
      expect(all.length).toBeGreaterThanOrEqual(n - 1); // at most the one in the dead taker's hands
      expect(all.length).toBeLessThanOrEqual(n);
      // FIFO: what was reported is a prefix (the broker may put an item it had
      // on its way to the dead taker back at the end, so the rest is a set)
      reported.forEach((v, k) => expect(v).toBe(k));
      for (const x of left) expect(x.i).toBeGreaterThanOrEqual(reported.length);
      q.putNowait(item(3));
      expect(whole(q.getNowait(), 3)).toBe(true);
    }
  }, 120_000);
});

function item(i: number) {
  return { i, s: 'x'.repeat(i % 97), tail: [i, -i] };
}
