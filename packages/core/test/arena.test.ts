// The shm backend's limits (issue 11, "Bad input and limits"). Each case runs
// in a fresh process, since the arena and the backend are decided once.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const core = new URL('../dist/index.js', import.meta.url).href;

function run(source: string, env: Record<string, string> = {}, flags: string[] = []) {
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

describe('the shared-memory arena', () => {
  it('full: a clear RangeError at the allocation; a large allocation (a region of its own) still works', () => {
    const r = run(
      `import { allocateWords, memoryBackend } from ${JSON.stringify(core)};
       if (memoryBackend().name !== 'shm') { console.log('threads'); process.exit(0); }
       let err, n = 0;
       try { for (;;) { allocateWords(16); n++; } } catch (e) { err = e; }
       const big = allocateWords(2 * 1024 * 1024 / 4);
       big[big.length - 1] = 7;
       console.log(JSON.stringify({ name: err?.name, message: err?.message, n, big: big[big.length - 1] }));`,
      { CONC_SHM_SIZE: '1' },
    );
    expect(r.status, r.err).toBe(0);
    if (r.out === 'threads') return; // the fallback has no arena (CI's CONC_SHM=0 pass)
    const o = JSON.parse(r.out);
    expect(o.name).toBe('RangeError');
    expect(o.message).toMatch(/arena is full \(1 MiB.*CONC_SHM_SIZE/);
    expect(o.n).toBeGreaterThan(10_000); // ~ (1 MiB - the header) / 64 B
    expect(o.big).toBe(7);
  });

  it('large allocations get regions of their own, freed by the garbage collector (fds do not pile up)', () => {
    const r = run(
      `import { readdirSync } from 'node:fs';
       import { allocateWords, describeWords, memoryBackend } from ${JSON.stringify(core)};
       if (memoryBackend().name !== 'shm') { console.log('threads'); process.exit(0); }
       const fds = () => readdirSync('/proc/self/fd').length;
       allocateWords(1);
       const before = fds();
       const d = describeWords(allocateWords(100_000));
       for (let i = 0; i < 300; i++) allocateWords(100_000);
       await new Promise((r) => setTimeout(r, 50));
       globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); globalThis.gc();
       await new Promise((r) => setTimeout(r, 50));
       console.log(JSON.stringify({ before, after: fds(), own: d.arena.key.length > 0 }));`,
      {},
      ['--expose-gc'],
    );
    expect(r.status, r.err).toBe(0);
    if (r.out === 'threads') return;
    const o = JSON.parse(r.out);
    expect(o.own).toBe(true);
    expect(o.after - o.before).toBeLessThan(50); // not 300
  });

  it('CONC_SHM_SIZE that is not a whole number of MiB is refused at the first allocation', () => {
    const r = run(
      `import { allocateWords, memoryBackend } from ${JSON.stringify(core)};
       try { allocateWords(1); console.log(memoryBackend().name === 'shm' ? 'no error' : 'threads'); } catch (e) { console.log(e.name + ': ' + e.message); }`,
      { CONC_SHM_SIZE: 'lots' },
    );
    expect(r.status, r.err).toBe(0);
    if (r.out === 'threads') return;
    expect(r.out).toMatch(/^RangeError: CONC_SHM_SIZE must be a whole number of MiB/);
  });

  it('a stale CONC_SHM_ARENA (no such process, or not a memfd) is ignored: a new arena is made', () => {
    for (const stale of ['999999999:3:268435456:abcdef', `${process.pid}:0:268435456:abcdef`, 'garbage']) {
      const r = run(
        `import { allocateWords, describeWords, memoryBackend } from ${JSON.stringify(core)};
         const w = allocateWords(1);
         console.log(memoryBackend().name === 'shm' ? describeWords(w).arena.pid : 'threads');`,
        { CONC_SHM_ARENA: stale },
      );
      expect(r.status, r.err).toBe(0);
      if (r.out !== 'threads') expect(Number(r.out)).toBeGreaterThan(0);
    }
  });
});
