// An error thrown by a thread's target that nobody is joining is printed at
// once to stderr, "Exception in thread NAME:" and its stack, as Python's
// threading.excepthook does; setExcepthook(fn) replaces that. The process's
// exit code does not change (as in Python), and join still rejects with the error.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { Thread, setExcepthook } from '@conc/thread';

const threadUrl = new URL('../dist/index.js', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'conc-excepthook-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Start `node file`; read its output as it comes. Killed when the test ends. */
function start(name: string, source: string) {
  const file = join(dir, name);
  writeFileSync(
    file,
    `import { Thread, setExcepthook, sleep, sleepAsync } from ${JSON.stringify(threadUrl)};
     const fallback = (ms) => new Promise((r) => setTimeout(r, ms).unref()); // a timeout that keeps nothing alive
     ${source}`,
  );
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = { stdout: '', stderr: '', code: null as number | null, closed: false };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const closed = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      out.code = code;
      out.closed = true;
      resolve();
    }),
  );
  /** Resolve once `pred(out)` holds; reject after `timeout` ms. */
  const until = (pred: (o: typeof out) => boolean, timeout = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const end = setTimeout(() => reject(new Error(`timed out; output so far: ${JSON.stringify(out)}`)), timeout);
      const check = () => {
        if (pred(out)) {
          clearTimeout(end);
          resolve();
        } else if (out.closed) {
          clearTimeout(end);
          reject(new Error(`the script ended first: ${JSON.stringify(out)}`));
        } else setTimeout(check, 10);
      };
      check();
    });
  return { out, closed, until };
}

const throwing = `
function failing(n) { throw new RangeError('bad value ' + n); }
const t = new Thread({ target: failing, args: [7], name: 'worker-7' }).start();
`;

describe('an error in a thread nobody joins', () => {
  it('is printed at once, while the main thread waits asynchronously', async () => {
    const s = start(
      'async-wait.mjs',
      `${throwing}
       console.log('waiting');
       await sleepAsync(20000);
       console.log('wait ended');`,
    );
    await s.until((o) => o.stderr.includes('at failing'));
    expect(s.out.stderr).toMatch(/^Exception in thread worker-7:\nRangeError: bad value 7\n\s+at failing/);
    expect(s.out.stdout).toBe('waiting\n'); // the wait has not ended
  }, 15_000);

  it('is printed at once, while the main thread is blocked', async () => {
    const s = start(
      'sync-wait.mjs',
      `${throwing}
       console.log('waiting');
       sleep(20000);
       console.log('wait ended');`,
    );
    await s.until((o) => o.stderr.includes('at failing'));
    expect(s.out.stderr).toMatch(/^Exception in thread worker-7:\nRangeError: bad value 7\n\s+at failing/);
    expect(s.out.stdout).toBe('waiting\n');
  }, 15_000);

  it('does not change the exit code (as in Python); join afterwards still rejects with the error', async () => {
    const s = start(
      'exit-code.mjs',
      `${throwing}
       while (t.isAlive()) await sleepAsync(5);
       try { await t.join(); } catch (e) { console.log('join rejected: ' + e.name + ': ' + e.message); }`,
    );
    await s.closed;
    expect({ code: s.out.code, stderr: s.out.code === 0 ? '' : s.out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(s.out.stdout).toBe('join rejected: RangeError: bad value 7\n');
    expect(s.out.stderr.match(/Exception in thread/g)).toHaveLength(1);
  }, 15_000);

  it('is not printed when someone is joining: join gets it', async () => {
    const s = start(
      'joined.mjs',
      `for (let i = 0; i < 5; i++) {
         const t = new Thread({ target: () => { throw new Error('joined ' + ${'i'}); }, args: [] }).start();
         try { await t.join(); } catch (e) { console.log('caught ' + e.message); }
         const u = new Thread({ target: () => { throw new Error('joined sync'); } }).start();
         try { u.joinSync(); } catch (e) { console.log('caught ' + e.message); }
       }`,
    );
    await s.closed;
    expect({ code: s.out.code, stderr: s.out.code === 0 ? '' : s.out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(s.out.stderr).toBe('');
    expect(s.out.stdout.split('\n').filter(Boolean)).toHaveLength(10);
  }, 30_000);

  it('covers what a target throws, a thrown non-Error, a missing module export, and an error outside the target', async () => {
    const s = start(
      'kinds.mjs',
      `const ts = [
         new Thread({ target: () => { throw 'a string'; }, name: 'strings' }),
         new Thread({ target: { module: ${JSON.stringify(new URL('./fixtures/targets.mjs', import.meta.url).href)}, export: 'nope' }, name: 'no-export' }),
         new Thread({ target: async () => { setTimeout(() => { throw new URIError('stray'); }, 5); await new Promise(() => {}); }, name: 'stray' }),
       ].map((t) => t.start());
       // Nothing else: the process ends once the threads have, each error reported by then.`,
    );
    await s.closed;
    expect({ code: s.out.code, stderr: s.out.code === 0 ? '' : s.out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(s.out.stderr).toContain("Exception in thread strings:\nError: a non-Error value was thrown: 'a string'");
    expect(s.out.stderr).toContain('Exception in thread no-export:\nTypeError: Thread target: module');
    expect(s.out.stderr).toContain('Exception in thread stray:\nURIError: stray');
  }, 15_000);
});

describe('setExcepthook', () => {
  it('replaces the printing: the hook gets { excType, excValue, thread }, nothing is printed', async () => {
    const s = start(
      'hook.mjs',
      `let called;
       const seen = new Promise((r) => (called = r));
       setExcepthook((args) => {
         console.log(JSON.stringify({ excType: args.excType, message: args.excValue.message, isError: args.excValue instanceof RangeError,
           stack: args.excValue.stack.includes('at failing'), thread: args.thread === t, name: args.thread.name }));
         called();
       });
       ${throwing}
       const r = await Promise.race([seen.then(() => 'hook called'), fallback(10000).then(() => 'no hook call')]);
       console.log(r);`,
    );
    await s.closed;
    expect({ code: s.out.code, stderr: s.out.code === 0 ? '' : s.out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(s.out.stderr).toBe('');
    expect(s.out.stdout.split('\n').filter(Boolean)).toEqual([
      JSON.stringify({
        excType: 'RangeError',
        message: 'bad value 7',
        isError: true,
        stack: true,
        thread: true,
        name: 'worker-7',
      }),
      'hook called',
    ]);
  }, 15_000);

  it('null or undefined restores the default; a hook that throws is reported, not fatal', async () => {
    const s = start(
      'restore.mjs',
      `setExcepthook(() => { console.log('custom'); });
       setExcepthook(null);
       let t = new Thread({ target: () => { throw new Error('first'); }, name: 'A' }).start();
       while (t.isAlive()) await sleepAsync(5);
       setExcepthook(() => {});
       setExcepthook(undefined);
       t = new Thread({ target: () => { throw new Error('second'); }, name: 'B' }).start();
       while (t.isAlive()) await sleepAsync(5);
       let called;
       const seen = new Promise((r) => (called = r));
       setExcepthook(() => { called(); throw new TypeError('the hook broke'); });
       t = new Thread({ target: () => { throw new Error('third'); }, name: 'C' }).start();
       await Promise.race([seen, fallback(10000)]);
       await sleepAsync(0);
       console.log('still running');`,
    );
    await s.closed;
    expect({ code: s.out.code, stderr: s.out.code === 0 ? '' : s.out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(s.out.stdout).toBe('still running\n');
    expect(s.out.stderr).toContain('Exception in thread A:\nError: first');
    expect(s.out.stderr).toContain('Exception in thread B:\nError: second');
    expect(s.out.stderr).not.toContain('Exception in thread C:');
    expect(s.out.stderr).toContain(
      'Exception in the excepthook, handling an error of thread C:\nTypeError: the hook broke',
    );
  }, 15_000);

  it('refuses what is not a function, null or undefined, changing nothing', () => {
    for (const bad of [5, 'print', {}, true]) {
      expect(() => setExcepthook(bad as never)).toThrow(TypeError);
      expect(() => setExcepthook(bad as never)).toThrow(/setExcepthook: fn must be a function, null or undefined/);
    }
    expect(Thread).toBeTypeOf('function');
  });
});
