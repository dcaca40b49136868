// A Process's module target is imported in the child, so its top level runs
// there too. The README's first example (before it was fixed) started a
// Process from its top level with itself as the target: each child started
// another, without end, and left orphans. start() called while a module is
// being imported as a target throws a clear error instead. Each script runs
// in a process group of its own, killed whole when the test ends, so a
// regression cannot leave processes behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConcRuntimeError, Process } from '@conc/process';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { finish, rejectionOf, until } from './helpers.js';

const processUrl = new URL('../dist/index.js', import.meta.url).href;
const threadUrl = new URL('../node_modules/@conc/thread/dist/index.js', import.meta.url).href;
const queueUrl = new URL('../node_modules/@conc/queue/dist/index.js', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'conc-process-bootstrap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, source);
  return file;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run `node file` in a new process group; SIGKILL the whole group after `timeout` ms and when the test ends. */
function run(file: string, timeout = 15_000) {
  const child = spawn(process.execPath, [file], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid!;
  const killGroup = () => {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  };
  onTestFinished(killGroup);
  const timer = setTimeout(killGroup, timeout);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; pgid: number }>(
    (resolve) =>
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, pgid });
      }),
  );
}

describe('Process.start while a module is being imported as a target', () => {
  it('the unguarded README example ends at once with a clear error, leaving no process behind', async () => {
    const file = write(
      'unguarded.mjs',
      `import { Process } from ${JSON.stringify(processUrl)};
       import { Queue } from ${JSON.stringify(queueUrl)};
       export async function producer(queue) { for (let i = 0; i < 5; i++) await queue.put(i); }
       console.log('top level in ' + (process.send ? 'a child' : 'the main process'));
       const queue = new Queue();
       const p = new Process({ target: { module: import.meta.url, export: 'producer' }, args: [queue], name: 'first' });
       p.start();
       try { console.log('joined', await p.join({ timeout: 10000 })); }
       catch (e) { console.log('rejected ' + e.name + ' exitCode ' + e.exitCode + ': ' + e.message); }`,
    );
    const out = await run(file);
    expect(out.signal).toBeNull(); // ended by itself, not killed
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('top level')).sort()).toEqual([
      'top level in a child',
      'top level in the main process',
    ]);
    const rejected = lines.filter((l) => l.startsWith('rejected'));
    expect(rejected.length).toBe(1);
    expect(rejected[0]).toContain('rejected ConcRuntimeError exitCode 1: Process.start: called while module');
    expect(rejected[0]).toContain('unguarded.mjs is being imported as the target of a child process (Process "first")');
    expect(rejected[0]).toContain('without end');
    expect(rejected[0]).toContain('fileURLToPath(import.meta.url)');
    // No orphan: nothing of the group is left once the main process has ended.
    await until(() => !groupAlive(out.pgid), 5_000, 'the process group to be empty');
  }, 25_000);

  it('a Thread started at the top level of a module imported by a child is refused too', async () => {
    const file = write(
      'thread-in-child.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       export function f() {}
       if (process.send) new Thread({ target: () => 1 }).start();`,
    );
    const p = new Process({ target: { module: file, export: 'f' }, name: 'importer' }).start();
    const e = await rejectionOf(p.join({ timeout: 20_000 }));
    expect(e).toBeInstanceOf(ConcRuntimeError);
    expect(e.message).toMatch(
      /^Thread\.start: called while module .*thread-in-child\.mjs is being imported as the target of a child process/,
    );
    expect(p.exitCode).toBe(1);
  }, 25_000);

  it('the refusal names the Process even when the import runs before the boot message arrives, whatever the name holds', async () => {
    // The child starts importing a module target from argv, before it reads
    // the boot message (on Node 22 and 24 the import's top level runs first),
    // so the name must come with the URL. Names that argv cannot carry as
    // they are: a NUL, quotes, spaces, a lone surrogate, an empty name.
    const file = write(
      'named-importer.mjs',
      `import { Thread } from ${JSON.stringify(threadUrl)};
       export function f() {}
       if (process.send) new Thread({ target: () => 1 }).start();`,
    );
    const names = ['plain', 'with "quotes", \'ticks\' and spaces', 'a\u0000nul', 'é 😀 \ud800 lone', '', '-e', '--x=1'];
    for (const name of names) {
      const p = new Process({ target: { module: file, export: 'f' }, name }).start();
      const e = await rejectionOf(p.join({ timeout: 20_000 }));
      expect(e).toBeInstanceOf(ConcRuntimeError);
      const expected = name
        ? `is being imported as the target of a child process (Process "${name}"), to start a thread`
        : 'is being imported as the target of a child process, to start a thread';
      expect(e.message).toContain(expected);
      expect(p.exitCode).toBe(1);
    }
  }, 60_000);

  it('the README example guarded as the error says runs: 5 items', async () => {
    const file = write(
      'guarded.mjs',
      `import { fileURLToPath } from 'node:url';
       import { Process } from ${JSON.stringify(processUrl)};
       import { Queue } from ${JSON.stringify(queueUrl)};
       export async function producer(queue) { for (let i = 0; i < 5; i++) await queue.put(i); }
       if (process.argv[1] === fileURLToPath(import.meta.url)) {
         const queue = new Queue();
         const p = new Process({ target: { module: import.meta.url, export: 'producer' }, args: [queue] });
         p.start();
         await p.join();
         const items = [];
         for (let i = 0; i < 5; i++) items.push(await queue.get({ timeout: 5000 }));
         console.log(items.join(','), p.exitCode);
       }`,
    );
    const out = await run(file);
    expect(out).toMatchObject({ code: 0, signal: null });
    expect(out.stdout.trim()).toBe('0,1,2,3,4 0');
  }, 25_000);

  it('a module target whose function starts a Process when called is not refused', async () => {
    const file = write(
      'spawner.mjs',
      `import { Process } from ${JSON.stringify(processUrl)};
       export function leaf() {}
       export async function spawner() {
         const p = new Process({ target: { module: import.meta.url, export: 'leaf' } }).start();
         if (!(await p.join({ timeout: 15000 })) || p.exitCode !== 0) throw new Error('inner process failed');
       }`,
    );
    const p = new Process({ target: { module: file, export: 'spawner' } }).start();
    await finish(p, 30_000);
    expect(p.exitCode).toBe(0);
  }, 35_000);
});
