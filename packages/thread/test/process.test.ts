// Behaviour only visible from outside: whether threads keep a node process
// alive, and how their output interleaves with the parent's on the real stdout.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const threadUrl = new URL('../dist/index.js', import.meta.url).href;
const threadCjs = new URL('../dist/index.cjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'conc-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run `node file` with `source` as the file; SIGKILL it after `timeout` ms. */
function runScript(name: string, source: string, timeout = 10_000): Promise<Outcome> {
  const file = join(dir, name);
  writeFileSync(file, source);
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr,
        ms: performance.now() - t0,
      });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

describe('process lifetime', () => {
  it('a daemon thread that sleeps forever does not keep the process alive', async () => {
    const out = await runScript(
      'daemon.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       const flag = new Int32Array(new SharedArrayBuffer(4));
       const t = new Thread({
         target: (f) => {
           console.log('daemon running');
           Atomics.store(f, 0, 1);
           Atomics.notify(f, 0);
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // forever
         },
         args: [flag],
         daemon: true,
       });
       t.start();
       // wait until the daemon runs, then leave nothing else to do
       if (Atomics.wait(flag, 0, 0, 5000) === 'timed-out') throw new Error('the daemon never ran');
       console.log('main done', t.isAlive());`,
    );
    expect(out.signal).toBeNull(); // not killed by the 10 s timeout
    expect(out.code).toBe(0);
    expect(lines(out.stdout)).toEqual(['daemon running', 'main done true']);
  }, 15_000);

  it('a non-daemon thread keeps the process alive until it ends (CommonJS build)', async () => {
    const out = await runScript(
      'nondaemon.cjs',
      `const { Thread } = require(${JSON.stringify(threadCjs)});
       new Thread({
         target: () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300); console.log('thread end'); },
       }).start();
       console.log('main end');`,
    );
    expect(out).toMatchObject({ code: 0, signal: null });
    expect(lines(out.stdout)).toEqual(['main end', 'thread end']);
  }, 15_000);

  it('awaiting join on a daemon thread that dies keeps the script alive until join rejects', async () => {
    const out = await runScript(
      'daemon-dies.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       const t = new Thread({ target: () => process.exit(5), daemon: true, name: 'd' }).start();
       try {
         console.log('resolved', await t.join({ timeout: 5000 }));
       } catch (e) {
         console.log(e.message);
       }`,
    );
    expect(out).toMatchObject({
      code: 0,
      signal: null,
      stdout: 'Thread d exited with code 5 before its target returned\n',
    });
  }, 15_000);
});

describe('thread output', () => {
  // Each thread says it started, then waits (up to 4 s) until the other has
  // started too before it ends: the two run at the same time however slowly
  // the second one starts (a fixed sleep did not, on a loaded machine).
  const threadBody = `(tag, flags, mine, other) => {
    console.log(tag + ' start');
    Atomics.store(flags, mine, 1);
    Atomics.notify(flags, mine);
    const r = Atomics.wait(flags, other, 0, 4000);
    console.log(tag + (r === 'timed-out' ? ' timed out waiting for the other' : ' end'));
  }`;
  const startBoth = `const flags = new Int32Array(new SharedArrayBuffer(8));
       const a = new Thread({ target: body, args: ['A', flags, 0, 1] }).start();
       const b = new Thread({ target: body, args: ['B', flags, 1, 0] }).start();`;

  it('threads’ console.log lines reach stdout in order with the parent’s (await join)', async () => {
    const out = await runScript(
      'order.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       const body = ${threadBody};
       console.log('main start');
       ${startBoth}
       await a.join({ timeout: 5000 });
       await b.join({ timeout: 5000 });
       console.log('all done');`,
    );
    expect(out).toMatchObject({ code: 0, signal: null, stderr: '' });
    const l = lines(out.stdout);
    expect([...l].sort()).toEqual(['A end', 'A start', 'B end', 'B start', 'all done', 'main start']);
    expect(l[0]).toBe('main start');
    expect(l.at(-1)).toBe('all done');
    expect(l.indexOf('A start')).toBeLessThan(l.indexOf('A end'));
    expect(l.indexOf('B start')).toBeLessThan(l.indexOf('B end'));
    // they ran in parallel: both started before either ended
    expect(Math.max(l.indexOf('A start'), l.indexOf('B start'))).toBeLessThan(
      Math.min(l.indexOf('A end'), l.indexOf('B end')),
    );
  }, 15_000);

  it('threads’ output appears even while the parent blocks in joinSync', async () => {
    const out = await runScript(
      'order-sync.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       const body = ${threadBody};
       ${startBoth}
       a.joinSync({ timeout: 5000 });
       b.joinSync({ timeout: 5000 });
       console.log('all done');
       process.exit(0); // exit at once: only what was written before is seen`,
    );
    expect(out).toMatchObject({ code: 0, signal: null });
    const l = lines(out.stdout);
    expect(l).toHaveLength(5);
    expect(l.at(-1)).toBe('all done');
    expect(l.indexOf('A start')).toBeGreaterThanOrEqual(0);
    expect(l.indexOf('A start')).toBeLessThan(l.indexOf('A end'));
    expect(l.indexOf('B start')).toBeGreaterThanOrEqual(0);
    expect(l.indexOf('B start')).toBeLessThan(l.indexOf('B end'));
  }, 15_000);

  it('stderr of a thread reaches the process stderr', async () => {
    const out = await runScript(
      'stderr.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       const t = new Thread({ target: () => { console.error('to stderr'); process.stdout.write('raw ' + 'write\\n'); } }).start();
       await t.join({ timeout: 5000 });`,
    );
    expect(out).toMatchObject({ code: 0, signal: null, stdout: 'raw write\n', stderr: 'to stderr\n' });
  }, 15_000);

  it('with directOutput: false, output goes through the parent and still arrives', async () => {
    const out = await runScript(
      'routed.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       const t = new Thread({ target: () => console.log('routed line'), directOutput: false }).start();
       await t.join({ timeout: 5000 });
       setTimeout(() => console.log('after'), 50);`,
    );
    expect(out).toMatchObject({ code: 0, signal: null });
    expect(lines(out.stdout)).toEqual(['routed line', 'after']);
  }, 15_000);
});
