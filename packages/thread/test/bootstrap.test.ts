// A module target is imported in the thread, so its top level runs there too.
// A module whose top level starts threads with itself as the target (the
// README's first example, before it was fixed) would start threads without
// end: start() called while a module is being imported as a target throws a
// clear error instead (Python's "bootstrapping phase" error). Only the import
// is refused: a target that starts threads when it is called still can.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConcRuntimeError, Thread } from '@conc/thread';
import { finish, rejectionOf } from './helpers';

const threadUrl = new URL('../dist/index.js', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'conc-bootstrap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

function run(file: string, timeout = 15_000) {
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [file], { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

describe('start() while a module is being imported as a target', () => {
  it('the unguarded README example ends at once with a clear error instead of starting threads without end', async () => {
    const file = write(
      'unguarded.mjs',
      `import { Thread, sleep } from ${JSON.stringify(threadUrl)};
       import { threadId } from 'node:worker_threads';
       export function task(name) { console.log('task ' + name); }
       console.log('top level in thread ' + threadId);
       const target = { module: import.meta.url, export: 'task' };
       const t1 = new Thread({ target, args: ['1'] }).start();
       const t2 = new Thread({ target, args: ['2'] }).start();
       const results = await Promise.allSettled([t1.join({ timeout: 10000 }), t2.join({ timeout: 10000 })]);
       for (const r of results) console.log(r.status === 'rejected' ? 'rejected ' + r.reason.name + ': ' + r.reason.message : 'joined');`,
    );
    const out = await run(file);
    expect(out.signal).toBeNull(); // ended by itself, not killed by the timeout
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n').filter(Boolean);
    // The main thread's top level, and each of the two threads' import of the module: exactly 3, no more threads.
    expect(lines.filter((l) => l.startsWith('top level in thread')).length).toBe(3);
    expect(lines.filter((l) => l.startsWith('task')).length).toBe(0);
    const rejected = lines.filter((l) => l.startsWith('rejected'));
    expect(rejected.length).toBe(2);
    for (const r of rejected) {
      expect(r).toContain('rejected ConcRuntimeError: Thread.start: called while module');
      expect(r).toContain('unguarded.mjs is being imported as the target of thread "Thread-');
      expect(r).toContain('without end');
      expect(r).toContain('if (isMainThread)');
      expect(r).toContain('exported function');
    }
  }, 20_000);

  it('the same module guarded with isMainThread runs: both tasks, once each', async () => {
    const file = write(
      'guarded.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       import { isMainThread } from 'node:worker_threads';
       export function task(name) { console.log('task ' + name); }
       if (isMainThread) {
         const target = { module: import.meta.url, export: 'task' };
         const t1 = new Thread({ target, args: ['1'] }).start();
         const t2 = new Thread({ target, args: ['2'] }).start();
         await t1.join(); await t2.join();
         console.log('all done');
       }`,
    );
    const out = await run(file);
    expect(out).toMatchObject({ code: 0, signal: null });
    expect(out.stdout.split('\n').filter(Boolean).sort()).toEqual(['all done', 'task 1', 'task 2']);
  }, 20_000);

  it('a module target without top-level starts still works, and its target may start threads when called', async () => {
    const file = write(
      'nested.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       export function leaf(n) { return n * 10; }
       export async function spawner(n) {
         // Called (not imported): starting threads here is fine, even with this module as the target.
         const ts = [1, 2, 3].map((i) => new Thread({ target: { module: import.meta.url, export: 'leaf' }, args: [n + i] }).start());
         const out = [];
         for (const t of ts) { await t.join({ timeout: 10000 }); out.push(t.result); }
         return out;
       }`,
    );
    for (let round = 0; round < 3; round++) {
      const t = new Thread({ target: { module: file, export: 'spawner' }, args: [round] }).start();
      expect(await finish(t)).toEqual([10 * (round + 1), 10 * (round + 2), 10 * (round + 3)]);
    }
  }, 30_000);

  it('a function target that starts a thread when called is not refused', async () => {
    const t = new Thread({
      target: async (path: string) => {
        const { Thread: T } = require(path);
        const inner = new T({ target: () => 'inner ran' }).start();
        await inner.join({ timeout: 10_000 });
        return inner.result;
      },
      args: [new URL('../dist/index.cjs', import.meta.url).pathname],
    }).start();
    expect(await finish(t)).toBe('inner ran');
  }, 20_000);

  it('a thread target module that imports a module starting a thread at top level: refused, join rejects', async () => {
    const starter = write(
      'starter.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       new Thread({ target: () => 1 }).start();`,
    );
    const file = write('imports-starter.mjs', `import ${JSON.stringify(starter)};\nexport function f() { return 1; }`);
    const t = new Thread({ target: { module: file, export: 'f' }, name: 'importer' }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(ConcRuntimeError);
    expect(e.message).toMatch(/imports-starter\.mjs is being imported as the target of thread "importer"/);
  }, 20_000);
});
