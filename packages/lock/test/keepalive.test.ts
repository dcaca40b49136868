import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The built package, by absolute path: the child is a plain node process.
const lockUrl = new URL('../dist/index.js', import.meta.url).href;
const lockCjs = new URL('../dist/index.cjs', import.meta.url).pathname;
const threadCjs = new URL('../node_modules/@conc/thread/dist/index.cjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'conc-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Run `node file` with `source` as the file; kill it after `timeout` ms. */
function runScript(name: string, source: string, timeout = 10_000): Promise<Outcome> {
  const file = join(dir, name);
  writeFileSync(file, source);
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

describe('a pending async acquire keeps the process alive', () => {
  it('a script whose only pending work is `await lock.acquire({ timeout: 300 })` prints false and exits 0', async () => {
    const out = await runScript(
      'timeout.mjs',
      `import { Lock } from ${JSON.stringify(lockUrl)};
       const lock = new Lock();
       lock.acquireSync();
       const t0 = performance.now();
       const got = await lock.acquire({ timeout: 300 });
       console.log(got);
       console.error('waited', Math.round(performance.now() - t0));`,
    );
    expect(out.stderr).toMatch(/^waited \d+\n$/);
    expect(out).toMatchObject({ code: 0, signal: null, stdout: 'false\n' });
    expect(Number(out.stderr.split(' ')[1])).toBeGreaterThanOrEqual(290);
  }, 15_000);

  it('the same holds for the CommonJS build and an RLock held by a daemon thread', async () => {
    const out = await runScript(
      'rlock.cjs',
      `const { RLock } = require(${JSON.stringify(lockCjs)});
       const { Thread } = require(${JSON.stringify(threadCjs)});
       const r = new RLock();
       const flags = new Int32Array(new SharedArrayBuffer(8));
       new Thread({
         target: (lock, f) => {
           lock.acquireSync();
           Atomics.store(f, 0, 1);
           Atomics.notify(f, 0);
           Atomics.wait(f, 1, 0); // hold it forever
         },
         args: [r, flags],
         daemon: true,
       }).start();
       if (Atomics.wait(flags, 0, 0, 10000) === 'timed-out') throw new Error('the thread never took the RLock');
       r.acquire({ timeout: 300 }).then((got) => console.log(got, r.isOwned()));`,
    );
    expect(out).toMatchObject({ code: 0, signal: null, stdout: 'false false\n' });
  }, 15_000);

  it('an acquire with no timeout, released later by a timer, resolves true', async () => {
    const out = await runScript(
      'release.mjs',
      `import { Lock } from ${JSON.stringify(lockUrl)};
       const lock = new Lock();
       lock.acquireSync();
       setTimeout(() => lock.release(), 100);
       console.log(await lock.acquire());
       lock.release();
       console.log(lock.locked);`,
    );
    expect(out).toMatchObject({ code: 0, signal: null, stdout: 'true\nfalse\n' });
  }, 15_000);
});
