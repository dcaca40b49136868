import { describe, expect, it } from 'vitest';
import { reviveError, serializeError, sleep, sleepAsync } from '@conc/thread';

describe('sleep', () => {
  it('sleep(ms) blocks the calling thread', () => {
    const t0 = performance.now();
    sleep(100);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it('sleep rejects a negative or NaN duration with RangeError', () => {
    expect(() => sleep(-1)).toThrow(RangeError);
    expect(() => sleep(Number.NaN)).toThrow(RangeError);
    expect(() => sleep(0)).not.toThrow();
  });

  it('sleepAsync waits without blocking; bad input rejects; a signal aborts it', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await sleepAsync(60);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0); // the event loop kept running
    await expect(sleepAsync(-1)).rejects.toThrow(RangeError);
    await expect(sleepAsync(Number.NaN)).rejects.toThrow(RangeError);
    await expect(sleepAsync('10' as unknown as number)).rejects.toThrow(TypeError);
    expect(() => sleep(null as unknown as number)).toThrow(/sleep: ms must be a number/);
    const ac = new AbortController();
    const p = sleepAsync(10_000, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  }, 5_000);
});

describe('error serialization between threads', () => {
  it('keeps the class of built-in errors, the message, the stack and a code', () => {
    const original = Object.assign(new RangeError('out of range'), { code: 'E_RANGE' });
    const data = structuredClone(serializeError(original));
    const back = reviveError(data);
    expect(back).toBeInstanceOf(RangeError);
    expect(back.name).toBe('RangeError');
    expect(back.message).toBe('out of range');
    expect(back.stack).toBe(original.stack);
    expect((back as Error & { code?: string }).code).toBe('E_RANGE');
  });

  it('keeps the name of a custom error class (as an Error)', () => {
    class QuotaError extends Error {
      override name = 'QuotaError';
    }
    const back = reviveError(structuredClone(serializeError(new QuotaError('too many'))));
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('QuotaError');
    expect(back.message).toBe('too many');
    expect(String(back)).toBe('QuotaError: too many');
  });

  it('turns a thrown non-Error into an Error that says what was thrown', () => {
    const back = reviveError(serializeError(42));
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe('a non-Error value was thrown: 42');
  });
});

describe('sleepAsync with a delay past one setTimeout', () => {
  it('2 ** 31 and 2 ** 40 ms are still pending after 200 ms, and a signal ends them', async () => {
    for (const ms of [2 ** 31, 2 ** 40]) {
      const ac = new AbortController();
      let settled = 'pending';
      const p = sleepAsync(ms, { signal: ac.signal }).then(
        () => {
          settled = 'resolved';
        },
        (e) => {
          settled = e === ac.signal.reason ? 'aborted' : `rejected: ${e}`;
        },
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe('pending');
      ac.abort();
      await p;
      expect(settled).toBe('aborted');
    }
  }, 5_000);
});
