import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Event } from '@conc/event';
import { Lock, RLock } from '@conc/lock';
import { ConcRuntimeError, DataCloneError, Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, finish, rejectionOf, runNode, targets, thrownBy, until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'conc-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Process', () => {
  it('runs a function target and a module target; exitCode 0', async () => {
    const p = new Process({
      target: (a: number, b: number) => {
        if (a + b !== 3) throw new Error('bad args');
      },
      args: [1, 2],
    });
    expect(p.exitCode).toBeNull();
    p.start();
    expect(typeof p.pid).toBe('number');
    expect(p.isAlive()).toBe(true);
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(p.isAlive()).toBe(false);
    const q = new Process({
      target: { module: targets, export: 'lockInfo' },
      args: [new Lock(), new RLock()],
      name: 'info',
    });
    expect(q.name).toBe('info');
    q.start();
    await finish(q);
    expect(q.exitCode).toBe(0);
  }, 30_000);

  it("a target error rejects join with the child's name, message, stack and exit code", async () => {
    const p = new Process({ target: { module: targets, export: 'throwsTypeError' }, args: ['no good'] }).start();
    const e = await rejectionOf(p.join({ timeout: 20_000 }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('no good');
    expect(e.stack).toContain('throwsTypeError');
    expect((e as any).exitCode).toBe(1);
    expect(p.exitCode).toBe(1);
  }, 30_000);

  it('kill() and terminate() report the signal as a negative exit code; join false on timeout', async () => {
    const p = new Process({ target: { module: targets, export: 'spin' } }).start();
    expect(await p.join({ timeout: 300 })).toBe(false);
    p.kill();
    await finish(p);
    expect(p.exitCode).toBe(-9);
    const q = new Process({ target: () => new Promise(() => setInterval(() => {}, 1000)) }).start();
    await new Promise((r) => setTimeout(r, 300));
    q.terminate();
    await finish(q);
    expect(q.exitCode).toBe(-15);
  }, 30_000);

  it('bad input: clear errors at once', async () => {
    const p = new Process({ target: () => {} });
    expect(thrownBy(() => p.kill())).toBeInstanceOf(ConcRuntimeError);
    expect(thrownBy(() => p.terminate()).message).toMatch(/never started/);
    await expect(p.join()).rejects.toThrow(/before it is started/);
    p.start();
    expect(thrownBy(() => p.start()).message).toMatch(/already started/);
    await finish(p);
    expect(() => new Process({ target: 42 as any })).toThrow(TypeError);
    expect(() => new Process({ target: { module: '/nowhere/at/all.mjs' } })).toThrow(/does not exist/);
    const sab = new Int32Array(new SharedArrayBuffer(4));
    const e = thrownBy(() => new Process({ target: (..._: unknown[]) => {}, args: [1, { data: sab }] }).start());
    expect(e).toBeInstanceOf(DataCloneError);
    expect(e.message).toMatch(/args\[1\]\.data is a Int32Array over a SharedArrayBuffer; processes share no memory/);
    expect(() => new Process({ target: (..._: unknown[]) => {}, args: [{ f: () => {} }] }).start()).toThrow(
      /args\[0\]\.f is a function/,
    );
    expect(() => new Process({ target: (..._: unknown[]) => {}, args: [{ s: Symbol('x') }] }).start()).toThrow(
      /args\[0\]\.s is a symbol/,
    );
    await expect(p.join({ timeout: -1 })).rejects.toThrow(RangeError);
  }, 30_000);
});

describe('Lock and RLock across processes', () => {
  it('2 children x 500 increments under a Lock: exact', async () => {
    const file = join(dir, 'counter');
    writeFileSync(file, '0');
    const lock = new Lock();
    const ps = [0, 1].map(() =>
      new Process({ target: { module: targets, export: 'incrementUnderLock' }, args: [lock, file, 500] }).start(),
    );
    for (const p of ps) await finish(p, 40_000);
    expect(ps.map((p) => p.exitCode)).toEqual([0, 0]);
    expect(Number(readFileSync(file, 'utf8'))).toBe(1000);
    expect(lock.locked).toBe(false);
  }, 60_000);

  it("RLock: re-entrant in the child, owned per child thread (the child's Thread cannot take or release it)", async () => {
    const rlock = new RLock();
    const out = new Queue();
    const go = new Event();
    const p = new Process({ target: { module: targets, export: 'rlockOwnership' }, args: [rlock, out, go] }).start();
    const held = await out.get({ timeout: 20_000 });
    expect(held).toEqual({
      again: true,
      level: 2,
      owned: true,
      thread: {
        owned: false,
        level: 0,
        free: false,
        releaseError: 'ConcRuntimeError: RLock.release: cannot release an RLock held by another thread',
      },
    });
    // Held by the child's main thread: not ours either.
    expect(rlock.locked).toBe(true);
    expect(rlock.isOwned()).toBe(false);
    expect(rlock.tryAcquire()).toBe(false);
    go.set();
    expect(await out.get({ timeout: 20_000 })).toEqual({ levelAfterOne: 1, locked: false, owned: false, level: 0 });
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(rlock.tryAcquire()).toBe(true);
    expect(rlock.abandoned).toBe(false);
    rlock.release();
  }, 30_000);

  it('a child SIGKILLed holding a Lock: the parent acquires it within a second and sees it was abandoned', async () => {
    const { lines } = runNode(`
      import { Lock } from '@conc/lock';
      import { Process } from '@conc/process';
      const lock = new Lock();
      const p = new Process({ target: { module: ${JSON.stringify(targets)}, export: 'holdForever' }, args: [lock] }).start();
      while (!lock.locked) await new Promise((r) => setTimeout(r, 10));
      console.log('child holds');
      p.kill();
      const t = performance.now();
      const got = await lock.acquire({ timeout: 3000 });
      console.log(JSON.stringify({ got, abandoned: lock.abandoned, ms: performance.now() - t, exit: (await p.join(), p.exitCode) }));
      lock.release();
      console.log(JSON.stringify({ after: lock.abandoned }));
    `);
    await until(() => lines.some((l) => l.startsWith('{"after"')), 20_000, 'the parent process reported');
    const result = JSON.parse(lines.find((l) => l.startsWith('{"got"'))!);
    expect(result.got).toBe(true);
    expect(result.abandoned).toBe(true);
    expect(result.ms).toBeLessThan(1500);
    expect(result.exit).toBe(-9);
    expect(lines).toContain('{"after":false}');
  }, 30_000);

  it('the parent blocked in acquireSync on a lock a child holds gets it when the child releases', async () => {
    const lock = new Lock();
    const p = new Process({ target: { module: targets, export: 'holdThenRelease' }, args: [lock, 500] }).start();
    const end = Date.now() + 15_000;
    while (!lock.locked && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(lock.locked).toBe(true);
    // Blocks this thread (the event loop): only a broker off the main thread can serve the child's release.
    expect(lock.acquireSync({ timeout: 10_000 })).toBe(true);
    expect(lock.abandoned).toBe(false);
    lock.release();
    await finish(p);
    expect(p.exitCode).toBe(0);
  }, 30_000);
});

describe('no orphans', () => {
  it('a parent SIGKILLed: its children are gone within about a second, even with a busy main thread', async () => {
    // a: busy, started by the main thread (the parent's watchdog kills it);
    // b: holds a Lock (its bridge thread sees the broker's socket close);
    // c: busy, started by a Thread of the parent (no watchdog there: its own watcher thread).
    const { child, lines } = runNode(`
      import { Lock } from '@conc/lock';
      import { Process } from '@conc/process';
      import { Thread } from '@conc/thread';
      const targets = ${JSON.stringify(targets)};
      const a = new Process({ target: { module: targets, export: 'spin' } }).start();
      const b = new Process({ target: { module: targets, export: 'holdForever' }, args: [new Lock()] }).start();
      new Thread({ target: { module: targets, export: 'spawnFromThread' } }).start();
      console.log(JSON.stringify([a.pid, b.pid]));
      setInterval(() => {}, 1000);
    `);
    await until(
      () => lines.some((l) => l.startsWith('[')) && lines.some((l) => l.includes('fromThread')),
      15_000,
      'the parent printed its children',
    );
    const pids: number[] = [
      ...JSON.parse(lines.find((l) => l.startsWith('['))!),
      JSON.parse(lines.find((l) => l.includes('fromThread'))!).fromThread,
    ];
    expect(pids).toHaveLength(3);
    await until(() => lines.includes('holding'), 15_000, 'b holds its lock');
    await new Promise((r) => setTimeout(r, 500)); // let a and c enter their loops
    expect(pids.every(alive)).toBe(true);
    child.kill('SIGKILL');
    const t = Date.now();
    await until(() => !pids.some(alive), 5000, 'children gone');
    expect(Date.now() - t).toBeLessThan(3000);
  }, 30_000);
});
