import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { encode } from '@conc/core';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { describe, expect, it } from 'vitest';
import { finish, targets } from './helpers.js';

/** A request frame as the bridge writes it: u32 length | u32 call id | i32 thread | body. */
function frame(c: number, body: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(body.length + 8, 0);
  head.writeUInt32LE(c, 4);
  head.writeInt32LE(1, 8);
  return Buffer.concat([head, body]);
}

describe('broker', () => {
  it('answers malformed and unknown requests with errors and keeps serving everyone else', async () => {
    const lock = new Lock();
    const encoded = encode([lock], 'process') as any;
    const { socket, id } = encoded.s[0].remote;
    // The broker thread starts on the first share: retry until it listens.
    let s = connect(socket);
    for (let tries = 0; ; tries++) {
      const ok = await new Promise((r) => s.once('connect', () => r(true)).once('error', () => r(false)));
      if (ok) break;
      if (tries > 200) throw new Error('the broker never listened');
      await new Promise((r) => setTimeout(r, 25));
      s = connect(socket);
    }
    const replies: any[] = [];
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const len = buf.readUInt32LE(0);
        replies.push({ c: buf.readUInt32LE(4), ...deserialize(buf.subarray(12, 4 + len)) });
        buf = buf.subarray(4 + len);
      }
    });
    s.write(frame(5, Buffer.from('not v8 at all')));
    s.write(frame(1, serialize({ k: 'launch-missiles' })));
    s.write(frame(2, serialize({ k: 'call', o: 999_999, m: 'acquire', a: [] })));
    s.write(frame(3, serialize({ k: 'call', o: id, m: 'noSuchMethod', a: [] })));
    s.write(frame(4, serialize({ k: 'call', o: id, m: 'tryAcquire', a: [] })));
    const end = Date.now() + 5000;
    while (replies.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const byCall = new Map(replies.map((r) => [r.c, r]));
    expect(byCall.get(5).e.message).toMatch(/malformed request/);
    expect(byCall.get(1).e.message).toMatch(/unknown request kind/);
    expect(byCall.get(2).e.message).toMatch(/no primitive with id/);
    expect(byCall.get(3).e.message).toMatch(/has no method noSuchMethod/);
    expect(byCall.get(4)).toEqual({ c: 4, ok: true, v: true });
    // This connection took the lock; closing it gives the lock back, flagged.
    s.destroy();
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

  it('a starting broker removes the sockets left by owners that were killed (SIGKILL cannot unlink)', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid is not running
    const stale = join(tmpdir(), `conc-${dead}-0-0123abcd.sock`);
    writeFileSync(stale, '');
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import '@conc/process'; import { encode } from '@conc/core'; import { Lock } from '@conc/lock'; encode([new Lock()], 'process');",
      ],
      { cwd: new URL('.', import.meta.url).pathname, encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(stale)).toBe(false);
  }, 30_000);
});
