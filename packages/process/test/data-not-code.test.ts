// Issue 9, items 1 and 15: data is never code, and shared references and
// cycles cross as structured clone keeps them. A value that merely looks like
// conc's encoding (what an HTTP body might contain) must come back as the plain
// data it is, and nothing it names is imported, in threads, in child processes
// and through queues.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Event } from '@conc/event';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { Thread } from '@conc/thread';
import { afterAll, describe, expect, it } from 'vitest';
import { finish } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'conc-data-not-code-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A look-alike of every encoding conc has used: if any of it is imported, `flag` appears. */
function evil(flag: string) {
  const code = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(flag)}, 'ran in ' + process.pid);`;
  const module = `data:text/javascript,${encodeURIComponent(code)}`;
  return {
    __conc_shared__: 'x.evil',
    module,
    data: {},
    remote: { bridge: module, socket: '/nowhere', id: 1 },
    nested: [{ __conc_shared__: 'conc.Lock', module, data: { words: { sab: null, offset: 0, length: 1 } } }],
    __conc_encoded__: 1,
    v: { __conc_shared__: 'x.evil', module },
    s: [{ p: {}, tag: 'x.evil', module }],
  };
}

function flagFile(name: string): string {
  return join(dir, name);
}

function assertNotRun(flag: string) {
  expect(existsSync(flag) ? readFileSync(flag, 'utf8') : 'not run').toBe('not run');
}

describe('data that looks like conc encoding stays data', () => {
  it('in Thread args and a Thread result', async () => {
    const flag = flagFile('thread');
    const value = evil(flag);
    const t = new Thread({
      target: (x: unknown) => ({ got: x, plain: Object.getPrototypeOf(x) === Object.prototype }),
      args: [value],
    }).start();
    await finish(t as never);
    const result = t.result as { got: unknown; plain: boolean };
    expect(result.plain).toBe(true);
    expect(result.got).toEqual(value);
    assertNotRun(flag);
  }, 20_000);

  it('returned from a Thread target that builds it', async () => {
    const flag = flagFile('thread-result');
    const t = new Thread({
      target: (f: string) => {
        const module = `data:text/javascript,${encodeURIComponent(`import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(f)}, 'x');`)}`;
        return { __conc_shared__: 'x.evil', module, data: {} };
      },
      args: [flag],
    }).start();
    await finish(t as never);
    expect(t.result).toEqual(expect.objectContaining({ __conc_shared__: 'x.evil' }));
    assertNotRun(flag);
  }, 20_000);

  it('in Process args, and in a Queue item a child gets', async () => {
    const flag = flagFile('process');
    const value = evil(flag);
    const q = new Queue();
    const out = new Queue();
    await q.put(value);
    const p = new Process({
      target: async (x: unknown, q: any, out: any) => {
        const item = await q.get({ timeout: 5000 });
        const itemSync = q.getSync({ timeout: 5000 });
        await out.put({ x, item, itemSync, plain: Object.getPrototypeOf(x) === Object.prototype });
      },
      args: [value, q, out],
    }).start();
    await q.put(value);
    await finish(p);
    const got = (await out.get({ timeout: 5000 })) as any;
    expect(got.plain).toBe(true);
    expect(got.x).toEqual(value);
    expect(got.item).toEqual(value);
    expect(got.itemSync).toEqual(value);
    assertNotRun(flag);
  }, 30_000);
});

describe('shared references and cycles cross as structured clone keeps them', () => {
  it('a cyclic object and [o, o] in Thread args', async () => {
    const o: any = { name: 'o' };
    o.self = o;
    const lock = new Lock();
    // a Map that contains itself
    const m = new Map<string, unknown>();
    m.set('me', m);
    const t2 = new Thread({
      target: (a: any, b: any, l1: any, l2: any, m: Map<string, any>) => ({
        cyclic: a.self === a,
        same: b[0] === b[1],
        sameLock: l1 === l2,
        mapSelf: m.get('me') === m,
      }),
      args: [o, [o, o], lock, lock, m],
    }).start();
    await finish(t2 as never);
    expect(t2.result).toEqual({ cyclic: true, same: true, sameLock: true, mapSelf: true });
  }, 20_000);

  it('[lock, lock] in a cycle: one Lock over the same words, in a thread', async () => {
    const lock = new Lock();
    const holder: any = { locks: [lock, lock] };
    holder.back = holder;
    const t = new Thread({
      target: (h: any) => {
        const same = h.locks[0] === h.locks[1] && h.back === h;
        const took = h.locks[0].tryAcquire();
        return { same, took, lockedSeenByOther: h.locks[1].locked };
      },
      args: [holder],
    }).start();
    await finish(t as never);
    expect(t.result).toEqual({ same: true, took: true, lockedSeenByOther: true });
    expect(lock.locked).toBe(true);
  }, 20_000);

  it('cycles and shared references in Process args, primitives included', async () => {
    const ev = new Event();
    const o: any = { ev, list: [] };
    o.list.push(o, ev);
    const out = new Queue();
    const p = new Process({
      target: async (a: any, b: any, out: any) => {
        await out.put({ cyclic: a.list[0] === a, sameEv: a.ev === a.list[1] && a.ev === b[0] && b[0] === b[1] });
        a.ev.set();
      },
      args: [o, [ev, ev], out],
    }).start();
    await finish(p);
    expect(await out.get({ timeout: 5000 })).toEqual({ cyclic: true, sameEv: true });
    expect(ev.isSet()).toBe(true);
  }, 30_000);
});
