// The broker admits only the owner's children, serves only public API, and
// one connection cannot exhaust or stall the owner (issue 9, items 2-4).
import './use-broker.js'; // first: these tests are about the broker (the fallback)
import { spawn, spawnSync } from 'node:child_process';
import { Event } from '@conc/event';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { describe, expect, it } from 'vitest';
import { finish } from './helpers.js';

const raw = new URL('./fixtures/raw.mjs', import.meta.url).href;
const cwd = new URL('.', import.meta.url).pathname;

/** Run a plain `node -e` script (not a conc child); its stdout, parsed as JSON. */
async function runPlain(source: string, args: string[] = [], timeout = 20_000): Promise<any> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd,
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the script did not end in time'));
    }, timeout);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  expect(code).toBe(0);
  return JSON.parse(out.trim().split('\n').pop()!);
}

/**
 * An unrelated process of the same user: finds every broker socket of
 * process `pid` in the temp dir (directly there, or one directory down),
 * connects to each and, without a key, then with a made-up one, asks every
 * object id from 1 to 64 to give up what it holds.
 */
const ATTACK = `
import { readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
const pid = process.argv[1];
const sockets = [];
for (const name of readdirSync(tmpdir())) {
  if (!name.startsWith('conc-' + pid + '-')) continue;
  const path = join(tmpdir(), name);
  let st;
  try { st = statSync(path); } catch { continue; }
  if (st.isSocket()) sockets.push(path);
  else if (st.isDirectory()) {
    let inner = [];
    try { inner = readdirSync(path); } catch {}
    for (const n of inner) if (statSync(join(path, n)).isSocket()) sockets.push(join(path, n));
  }
}
function frame(c, body) {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(body.length + 8, 0);
  head.writeUInt32LE(c, 4);
  head.writeInt32LE(1, 8);
  return Buffer.concat([head, body]);
}
let received = 0;
let connected = 0;
for (const path of sockets) {
  for (const auth of [null, Buffer.alloc(32), randomBytes(32)]) {
    const s = connect(path);
    const ok = await new Promise((r) => s.once('connect', () => r(true)).once('error', () => r(false)));
    if (!ok) continue;
    connected++;
    s.on('data', (d) => { received += d.length; });
    s.on('error', () => {});
    if (auth) s.write(frame(0, auth));
    let c = 1;
    for (let o = 1; o <= 64; o++) {
      for (const m of [['release', []], ['set', []], ['getNowait', []], ['putNowait', ['evil']], ['shutdown', [{ immediate: true }]]]) {
        s.write(frame(c++, serialize({ k: 'call', o, m: m[0], a: m[1] })));
      }
      s.write(frame(c++, serialize({ k: 'feed', o, items: ['evil'] })));
      s.write(frame(c++, serialize({ k: 'take', o, a: [{}], max: 10, ack: 0, wait: 0 })));
    }
    await new Promise((r) => { s.once('close', r); setTimeout(r, 1500); });
    s.destroy();
  }
}
console.log(JSON.stringify({ sockets, connected, received }));
`;

describe('only the owner and its children reach its primitives', () => {
  it('a process that is not a child finds the socket, connects, asks: nothing is done, nothing answered', async () => {
    const lock = new Lock();
    expect(lock.tryAcquire()).toBe(true);
    const q = new Queue<string>();
    q.putNowait('a');
    q.putNowait('b');
    const ev = new Event();
    const ready = new Event();
    const go = new Event();
    const out = new Queue<any>();
    // A real child holds a key, so the broker has keys it could wrongly accept.
    const p = new Process({
      target: { module: raw, export: 'legitAfterAttack' },
      args: [lock, q, ev, ready, go, out],
    }).start();
    expect(await ready.wait({ timeout: 20_000 })).toBe(true);
    const r = await runPlain(ATTACK, [String(process.pid)]);
    expect(r.sockets.length).toBeGreaterThan(0); // it did find the socket...
    expect(r.received).toBe(0); // ...and was told nothing
    expect(lock.locked).toBe(true);
    expect(lock.abandoned).toBe(false);
    expect(ev.isSet()).toBe(false);
    expect(q.isShutDown).toBe(false);
    expect(q.qsize()).toBe(2);
    // The child is still served.
    go.set();
    expect(await out.get({ timeout: 20_000 })).toEqual({ locked: true, qsize: 2, isSet: false });
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect([q.getNowait(), q.getNowait()]).toEqual(['a', 'b']);
    expect(q.qsize()).toBe(0);
    lock.release();
  }, 60_000);

  it("a child passes its key on: a grandchild handed the owner's queue, directly or from the child's Thread, is served", async () => {
    const q = new Queue<string>();
    const p = new Process({ target: { module: raw, export: 'passOn' }, args: [q, 50] }).start();
    await finish(p, 40_000);
    expect(p.exitCode).toBe(0);
    const got: string[] = [];
    while (q.qsize() > 0) got.push(q.getNowait());
    const expected = ['grandchild', 'fromThread'].flatMap((who) => Array.from({ length: 50 }, (_, i) => `${who}:${i}`));
    expect(got.sort()).toEqual(expected.sort());
  }, 60_000);

  it('the socket lives in a private directory (0700) and is itself 0600, whatever the umask', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { readdirSync, statSync } from 'node:fs';
         import { tmpdir } from 'node:os';
         import { join } from 'node:path';
         process.umask(0);
         await import('@conc/process');
         const { encode } = await import('@conc/core');
         const { Lock } = await import('@conc/lock');
         encode([new Lock()], 'process');
         const found = [];
         const end = Date.now() + 10_000;
         while (Date.now() < end) {
           found.length = 0;
           for (const name of readdirSync(tmpdir())) {
             if (!name.startsWith('conc-' + process.pid + '-')) continue;
             const path = join(tmpdir(), name);
             const st = statSync(path);
             const entry = { name, dir: st.isDirectory(), socket: st.isSocket(), mode: st.mode & 0o777, uid: st.uid, inner: [] };
             if (st.isDirectory()) for (const n of readdirSync(path)) {
               const s = statSync(join(path, n));
               entry.inner.push({ socket: s.isSocket(), mode: s.mode & 0o777 });
             }
             found.push(entry);
           }
           // (the broker restricts the socket right after it listens; the directory guards it meanwhile)
           if (found.some((e) => e.inner.some((i) => i.socket && i.mode === 0o600))) break;
           await new Promise((r) => setTimeout(r, 20));
         }
         console.log(JSON.stringify(found));`,
      ],
      { cwd, encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const found = JSON.parse(r.stdout.trim());
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ dir: true, mode: 0o700, uid: process.getuid!() });
    expect(found[0].inner).toEqual([{ socket: true, mode: 0o600 }]);
  }, 30_000);
});

describe('only the public API crosses', () => {
  it('crafted requests for private methods, Object.prototype names and raw fields are refused and change nothing', async () => {
    const lock = new Lock();
    expect(lock.tryAcquire()).toBe(true);
    const q = new Queue<string>();
    q.putNowait('a');
    q.putNowait('b');
    const ev = new Event();
    const out = new Queue<any>();
    const p = new Process({ target: { module: raw, export: 'crafted' }, args: [lock, q, ev, out] }).start();
    const r = await out.get({ timeout: 20_000 });
    await finish(p);
    expect(p.exitCode).toBe(0);
    expect(r.closed).toBe(false); // refused, and the connection still served the rest
    const { 'Event.isSet': isSet, 'Event.wait(timeout -1)': misuse, closed, ...refused } = r;
    expect(Object.keys(refused)).toHaveLength(24);
    for (const [name, reply] of Object.entries(refused) as [string, any][]) {
      expect(reply, name).not.toBeNull();
      expect(reply.ok, name).toBe(false);
      expect(reply.e.name, name).toBe('TypeError');
      expect(reply.e.message, name).toMatch(/public API|not a queue/);
      expect(reply.e.stack, name).toBeUndefined();
    }
    expect(isSet).toEqual({ ok: true, v: false });
    // A public method's own error reaches the caller: its class and message, not the owner's stack.
    expect(misuse.ok).toBe(false);
    expect(misuse.e.name).toBe('RangeError');
    expect(misuse.e.message).toMatch(/Event\.wait: timeout/);
    expect(misuse.e.stack).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain(cwd.split('/packages/')[0]);
    // Nothing changed.
    expect(lock.locked).toBe(true);
    expect(lock.abandoned).toBe(false);
    expect(ev.isSet()).toBe(false);
    expect(q.isShutDown).toBe(false);
    expect([q.getNowait(), q.getNowait()]).toEqual(['a', 'b']);
    expect(q.qsize()).toBe(0);
    lock.release();
  }, 60_000);
});

describe('a flood does not exhaust or stall the owner', () => {
  it('a client announcing a 500 MB frame is cut off at once; the owner does not buffer it', async () => {
    const lock = new Lock();
    const out = new Queue<any>();
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    try {
      const p = new Process({ target: { module: raw, export: 'floodHuge' }, args: [lock, out] }).start();
      const r = await out.get({ timeout: 30_000 });
      await finish(p);
      expect(p.exitCode).toBe(0);
      expect(r.closed).toBe(true);
      expect(r.written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
    }
    expect(peak - before).toBeLessThan(24 * 1024 * 1024);
  }, 60_000);

  it("while one child floods the broker with requests, another child's calls complete before the flood ends", async () => {
    const ev = new Event();
    const flooding = new Event();
    const out = new Queue<string>();
    const a = new Process({ target: { module: raw, export: 'floodSmall' }, args: [ev, flooding, 1_000_000, out] });
    const b = new Process({ target: { module: raw, export: 'manyCalls' }, args: [ev, flooding, 300, out] });
    a.start();
    b.start();
    const first = await out.get({ timeout: 60_000 });
    const second = await out.get({ timeout: 60_000 });
    await finish(a, 60_000);
    await finish(b, 60_000);
    expect([first, second]).toEqual(['calls done', 'flood done']);
  }, 120_000);
});
