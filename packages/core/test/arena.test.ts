// The shm backend's limits (issue 11, "Bad input and limits"). Each case runs
// in a fresh process, since the arena and the backend are decided once.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const core = new URL('../dist/index.js', import.meta.url).href;

function run(source: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

describe('the shared-memory arena', () => {
  it('full: a clear RangeError at the allocation, and smaller allocations still fit', () => {
    const r = run(
      `import { allocateWords, memoryBackend } from ${JSON.stringify(core)};
       if (memoryBackend().name !== 'shm') { console.log('threads'); process.exit(0); }
       let err;
       try { allocateWords(2 * 1024 * 1024 / 4); } catch (e) { err = e; }
       const small = allocateWords(16);
       console.log(JSON.stringify({ name: err?.name, message: err?.message, small: small.length }));`,
      { CONC_SHM_SIZE: '1' },
    );
    expect(r.status, r.err).toBe(0);
    if (r.out === 'threads') return; // the fallback has no arena (CI's CONC_SHM=0 pass)
    const o = JSON.parse(r.out);
    expect(o.name).toBe('RangeError');
    expect(o.message).toMatch(/arena is full \(1 MiB.*CONC_SHM_SIZE/);
    expect(o.small).toBe(16);
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
