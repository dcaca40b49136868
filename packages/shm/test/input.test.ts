// Bad input gives clear errors; CONC_SHM=0 turns the module off with that reason.
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { available, closeRegion, createRegion, mapRegion, wait, waitAsync, wake } from '@conc/shm';
import { describe, expect, it } from 'vitest';
import { runModule } from './helpers';

describe.runIf(available)('bad input', () => {
  it('a word must be an index inside an Int32Array', () => {
    const r = createRegion(64);
    const a = new Int32Array(r.buffer);
    for (const fn of [
      () => wait(a, 16, 0, 0),
      () => wake(a, -1),
      () => waitAsync(a, 1.5, 0, 0),
      () => wait(a, Number.NaN, 0, 0),
    ])
      expect(fn).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_CONC_SHM_INDEX' }));
    for (const bad of [new Uint32Array(r.buffer), new Float64Array(4), [0], {}, null])
      expect(() => wake(bad as any, 0)).toThrow(/must be an Int32Array/);
    expect(() => wait(a, 0, 'x' as any)).toThrow(TypeError);
    expect(() => wait(a, 0, 0, '10' as any)).toThrow(/timeout must be a number/);
    expect(() => wake(a, 0, -1)).toThrow(/count must be a number >= 0/);
    closeRegion(r);
  });

  it('a size must be a positive integer', () => {
    expect(() => createRegion(-1)).toThrow(
      expect.objectContaining({
        name: 'RangeError',
        message: expect.stringMatching(/size must be an integer in \[1,/),
      }),
    );
    expect(() => createRegion(0)).toThrow(RangeError);
    expect(() => createRegion(1.5)).toThrow(RangeError);
    expect(() => createRegion('64' as any)).toThrow(TypeError);
    expect(() => createRegion(2 ** 60)).toThrow(RangeError);
  });

  it('mapping a closed fd, a non-region fd or past the end fails clearly', () => {
    const r = createRegion(64);
    expect(() => mapRegion(r.fd, 65)).toThrow(/size must be an integer in \[1, 64\]/);
    expect(mapRegion(r.fd, 8).size).toBe(8);
    closeRegion(r.fd);
    expect(() => closeRegion(r.fd)).toThrow(/cannot close fd \d+ \(EBADF/);
    expect(() => mapRegion(r.fd)).toThrow(
      expect.objectContaining({
        code: 'ERR_CONC_SHM_FD',
        message: expect.stringMatching(/is not an open descriptor \(EBADF/),
      }),
    );
    expect(() => mapRegion(-1)).toThrow(RangeError);
    const dir = openSync(tmpdir(), 'r');
    expect(() => mapRegion(dir)).toThrow(/is not a shared memory region/);
    closeSync(dir);
    const empty = openSync(join(tmpdir(), `conc-shm-empty-${process.pid}`), 'w+');
    expect(() => mapRegion(empty)).toThrow(/is not a shared memory region/);
    closeSync(empty);
  });
});

describe('CONC_SHM=0', () => {
  it('forces available=false with that reason, and every function throws it', () => {
    const r = runModule(
      `import { available, reason, createRegion, wake } from '@conc/shm';
       const errors = [() => createRegion(8), () => wake(new Int32Array(1), 0)].map((f) => { try { f(); return 'no error'; } catch (e) { return e.name + ' ' + e.code + ' ' + e.message; } });
       console.log(JSON.stringify({ available, reason, errors }));`,
      { CONC_SHM: '0' },
    );
    expect(r.stderr).toBe('');
    const msg = '@conc/shm is not available: CONC_SHM=0 is set in the environment';
    expect(JSON.parse(r.stdout)).toEqual({
      available: false,
      reason: 'CONC_SHM=0 is set in the environment',
      errors: [
        `ShmUnavailableError ERR_CONC_SHM_UNAVAILABLE ${msg}`,
        `ShmUnavailableError ERR_CONC_SHM_UNAVAILABLE ${msg}`,
      ],
    });
  });
});
