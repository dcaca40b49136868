// A parent that dies, however it dies, leaves nothing in the temp dir and no
// child running (issue 9, item 12).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, brokerMode, runNode, targets, until } from './helpers.js';

/** What process `pid` has in the temp dir (its broker's directory or socket). */
function leftBy(pid: number): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith(`conc-${pid}-`));
}

/** The pids of the /bin/sh processes whose parent is `pid` (its watchdog). */
function shellsOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1] === 'sh' && Number(m[2]) === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** A parent with two busy children: one in a CPU loop (no primitives), one holding a Lock. */
async function startParent() {
  const { child, lines } = runNode(`
    import { Lock } from '@conc/lock';
    import { Process } from '@conc/process';
    const targets = ${JSON.stringify(targets)};
    const a = new Process({ target: { module: targets, export: 'spin' } }).start();
    const b = new Process({ target: { module: targets, export: 'holdForever' }, args: [new Lock()] }).start();
    console.log(JSON.stringify([a.pid, b.pid]));
    setInterval(() => {}, 1000);
  `);
  await until(() => lines.some((l) => l.startsWith('[')) && lines.includes('holding'), 15_000, 'parent ready');
  const pids: number[] = JSON.parse(lines.find((l) => l.startsWith('['))!);
  await new Promise((r) => setTimeout(r, 300)); // let the spinning child enter its loop
  expect(pids.every(alive)).toBe(true);
  // The broker (the fallback) has its socket there; on shared memory there is none to leave.
  if (brokerMode()) expect(leftBy(child.pid!).length).toBeGreaterThan(0);
  return { child, pids };
}

describe('a parent that dies leaves nothing behind', () => {
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`killed by ${signal}: its broker's socket and directory are gone and its busy children are dead`, async () => {
      const { child, pids } = await startParent();
      const pid = child.pid!;
      child.kill(signal);
      await until(() => child.signalCode !== null || child.exitCode !== null, 5000, 'the parent died');
      expect(child.signalCode).toBe(signal); // died by the signal, as without conc
      await until(() => !pids.some(alive), 5000, 'children gone');
      await until(() => leftBy(pid).length === 0, 5000, `nothing of ${pid} left in ${tmpdir()}`);
    }, 30_000);
  }

  it('its watchdog killed first, then the parent (SIGKILL): the busy children still die, nothing is left', async () => {
    const { child, pids } = await startParent();
    const pid = child.pid!;
    const dogs = shellsOf(pid);
    expect(dogs).toHaveLength(1);
    process.kill(dogs[0], 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    await until(() => !pids.some(alive), 5000, 'children gone');
    await until(() => leftBy(pid).length === 0, 5000, `nothing of ${pid} left in ${tmpdir()}`);
  }, 30_000);

  it('a starting broker removes what owners that are gone left (their watchdog was killed too), and only theirs', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid is not running
    const staleSocket = join(tmpdir(), `conc-${dead}-0-0123abcd.sock`); // the layout of earlier versions
    writeFileSync(staleSocket, '');
    const staleDir = join(tmpdir(), `conc-${dead}-0-Ab12Cd`);
    mkdirSync(staleDir, { mode: 0o700 });
    writeFileSync(join(staleDir, 's'), '');
    const liveDir = join(tmpdir(), `conc-${process.pid}-7-Ab12Cd`); // a running owner's: kept
    mkdirSync(liveDir, { mode: 0o700 });
    writeFileSync(join(liveDir, 's'), '');
    try {
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "import '@conc/process'; import { encode } from '@conc/core'; import { Lock } from '@conc/lock'; encode([new Lock()], 'process');",
        ],
        // the broker's own clean-up: start one whatever the backend of this run
        {
          cwd: new URL('.', import.meta.url).pathname,
          encoding: 'utf8',
          timeout: 20_000,
          env: { ...process.env, CONC_SHM: '0' },
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(staleSocket)).toBe(false);
      expect(existsSync(staleDir)).toBe(false);
      expect(existsSync(join(liveDir, 's'))).toBe(true);
      expect(leftBy(r.pid!)).toEqual([]); // and it cleaned up after itself at exit
    } finally {
      spawnSync('rm', ['-rf', liveDir]);
    }
  }, 30_000);

  // About the shared-memory backend (/dev/shm); heavy (100 node starts), so
  // once per `pnpm test`: not on its later passes (CONC_TEST_REPEAT=1).
  it.runIf(!brokerMode() && process.env.CONC_TEST_REPEAT !== '1')(
    '50 parents SIGKILLed mid-work (10 at a time): nothing left in /dev/shm or the temp dir, no child left running',
    async () => {
      const shmBefore = new Set(readdirSync('/dev/shm'));
      for (let batch = 0; batch < 5; batch++) {
        const parents = Array.from({ length: 10 }, () =>
          runNode(`
          import { Lock } from '@conc/lock';
          import { Process } from '@conc/process';
          import { Queue } from '@conc/queue';
          const targets = ${JSON.stringify(targets)};
          const q = new Queue();
          const c = new Process({ target: { module: targets, export: 'holdForever' }, args: [new Lock()] }).start();
          for (let i = 0; ; i++) { q.putNowait({ i }); q.getNowait(); if (i === 1000) console.log(JSON.stringify([c.pid])); if (i % 4096 === 0) await new Promise((r) => setImmediate(r)); }
        `),
        );
        const pids: number[] = [];
        for (const { lines } of parents) {
          await until(() => lines.some((l) => l.startsWith('[')) && lines.includes('holding'), 15_000, 'parent ready');
          pids.push(...JSON.parse(lines.find((l) => l.startsWith('['))!));
        }
        for (const { child } of parents) child.kill('SIGKILL');
        await until(() => !pids.some(alive), 5000, 'children gone');
        for (const { child } of parents) {
          await until(() => leftBy(child.pid!).length === 0, 5000, `nothing of ${child.pid} left in ${tmpdir()}`);
        }
      }
      const shmAfter = readdirSync('/dev/shm').filter((n) => !shmBefore.has(n));
      expect(shmAfter).toEqual([]);
    },
    120_000,
  );
});
