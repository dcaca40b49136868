import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConcRuntimeError, DataCloneError, Thread } from '@conc/thread';
import { finish, rejectionOf, targets, thrownBy } from './helpers';

describe('errors thrown by the target', () => {
  it('join rejects with the same name, class, message, and a stack that mentions the original', async () => {
    function failingTarget(n: number) {
      throw new RangeError(`bad value ${n}`);
    }
    const t = new Thread({ target: failingTarget, args: [7] }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.name).toBe('RangeError');
    expect(e.message).toBe('bad value 7');
    expect(e.stack).toMatch(/^RangeError: bad value 7\n/);
    expect(e.stack).toMatch(/at failingTarget/);
    expect(t.isAlive()).toBe(false);
    expect(t.result).toBeUndefined();
    // joining again rejects again, with the same error data
    const again = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(again.message).toBe('bad value 7');
  }, 15_000);

  it('a custom error class (extends RangeError) keeps its name, message, code and module stack', async () => {
    const t = new Thread({ target: { module: targets, export: 'throwsCustom' }, args: ['value out of range'] }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ValidationError');
    expect(e.message).toBe('value out of range');
    expect((e as Error & { code?: string }).code).toBe('E_VALIDATION');
    expect(e.stack).toMatch(/^ValidationError: value out of range\n/);
    expect(e.stack).toContain('throwsCustom');
    expect(e.stack).toContain('fixtures/targets.mjs');
  }, 15_000);

  it('joinSync throws the target’s error', () => {
    const t = new Thread({
      target: () => {
        throw new TypeError('sync side');
      },
    }).start();
    const e = thrownBy(() => t.joinSync({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('sync side');
  }, 15_000);

  it('an async target that rejects rejects join', async () => {
    const t = new Thread({
      target: async () => {
        await new Promise((r) => setTimeout(r, 10));
        throw new SyntaxError('late failure');
      },
    }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(SyntaxError);
    expect(e.message).toBe('late failure');
  }, 15_000);

  it('a thrown non-Error becomes an Error that says what was thrown', async () => {
    const t = new Thread({
      target: () => {
        throw 'just a string';
      },
    }).start();
    await expect(t.join({ timeout: 10_000 })).rejects.toThrow("a non-Error value was thrown: 'just a string'");
  }, 15_000);

  it('a ReferenceError from a function target carries the hint about source text', async () => {
    const captured = 41;
    const t = new Thread({ target: () => captured + 1 }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(ReferenceError);
    expect(e.message).toMatch(/^captured is not defined/);
    expect(e.message).toContain('sent to the thread as source text');
    expect(e.message).toContain('{ module, export }');
  }, 15_000);

  it('a ReferenceError from a module target gets no such hint', async () => {
    const t = new Thread({
      target: { module: new URL('./fixtures/broken.mjs', import.meta.url), export: 'usesUndefined' },
    }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(ReferenceError);
    expect(e.message).toBe('notDefinedAnywhere is not defined');
  }, 15_000);

  it('a target calling process.exit(3) makes join reject (not hang), saying it exited with code 3', async () => {
    const t = new Thread({
      target: () => {
        process.exit(3);
      },
      name: 'exiter',
    }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e.message).toBe('Thread exiter exited with code 3 before its target returned');
    expect(t.isAlive()).toBe(false);
  }, 15_000);

  it('an uncaught error outside the target’s promise kills the thread: join rejects with that error', async () => {
    const t = new Thread({
      target: async () => {
        setTimeout(() => {
          throw new URIError('stray timer error');
        }, 10);
        await new Promise(() => {}); // never settles
      },
    }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(URIError);
    expect(e.message).toBe('stray timer error');
    expect(t.isAlive()).toBe(false);
  }, 15_000);

  it('a target whose promise never settles, with nothing left to do, ends the thread: join rejects', async () => {
    const t = new Thread({ target: () => new Promise(() => {}), name: 'stuck' }).start();
    await expect(t.join({ timeout: 10_000 })).rejects.toThrow(
      'Thread stuck exited with code 0 before its target returned',
    );
  }, 15_000);

  it('process.exit in the target makes joinSync throw instead of hanging, with the exit code', () => {
    const t = new Thread({ target: () => process.exit(0) }).start();
    expect(() => t.joinSync({ timeout: 10_000 })).toThrow(/exited with code 0 before its target returned/);
    const t7 = new Thread({ target: () => process.exit(7) }).start();
    expect(() => t7.joinSync({ timeout: 10_000 })).toThrow(/exited with code 7 before its target returned/);
  }, 15_000);

  it('a return value that cannot be cloned rejects join with DataCloneError naming it', async () => {
    const t = new Thread({ target: () => ({ ok: 1, fn: () => 2 }) }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e.name).toBe('DataCloneError');
    expect(e.message).toMatch(/return value\.fn/);
  }, 15_000);
});

describe('module targets that cannot work', () => {
  it('a missing export rejects join with a message naming the export and the available ones', async () => {
    const t = new Thread({ target: { module: targets, export: 'nope' } }).start();
    const e = await rejectionOf(t.join({ timeout: 10_000 }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain('has no exported function "nope"');
    expect(e.message).toContain('targets.mjs');
    expect(e.message).toMatch(/its exported functions: .*\badd\b/);
  }, 15_000);

  it('an export that is not a function rejects join', async () => {
    const t = new Thread({ target: { module: targets, export: 'notAFunction' } }).start();
    await expect(t.join({ timeout: 10_000 })).rejects.toThrow(/no exported function "notAFunction"/);
  }, 15_000);

  it('a module without a default export, targeted without export, rejects join naming "default"', async () => {
    const t = new Thread({ target: { module: new URL('./fixtures/broken.mjs', import.meta.url) } }).start();
    await expect(t.join({ timeout: 10_000 })).rejects.toThrow(/no exported function "default"/);
  }, 15_000);

  it('a module that throws while loading rejects join with its error', async () => {
    const t = new Thread({
      target: { module: new URL('./fixtures/throws-on-load.mjs', import.meta.url), export: 'f' },
    }).start();
    await expect(t.join({ timeout: 10_000 })).rejects.toThrow('this module refuses to load');
  }, 15_000);

  it('a module file that does not exist is refused at construction', () => {
    const missing = new URL('./fixtures/does-not-exist.mjs', import.meta.url);
    expect(() => new Thread({ target: { module: missing, export: 'f' } })).toThrow(/does not exist/);
    expect(() => new Thread({ target: { module: fileURLToPath(missing) } })).toThrow(/does not exist/);
  });
});

describe('bad input is refused at once', () => {
  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'console.log(1)'],
    ['an object without module', { export: 'add' }],
  ])('a target that is %s: TypeError at construction', (_what, target) => {
    const e = thrownBy(() => new Thread({ target: target as never }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/Thread: target must be a function or \{ module, export \}/);
  });

  it('a module reference with a bad module or export: TypeError', () => {
    expect(() => new Thread({ target: { module: '' } })).toThrow(TypeError);
    expect(() => new Thread({ target: { module: 5 as never } })).toThrow(
      /target\.module must be a URL or a non-empty string/,
    );
    expect(() => new Thread({ target: { module: targets, export: '' } })).toThrow(
      /target\.export must be a non-empty string/,
    );
  });

  it('a class, a bound function or a native function: TypeError', () => {
    class Job {}
    expect(() => new Thread({ target: Job as never })).toThrow(/is a class/);
    const bound = function f(this: unknown) {}.bind(null);
    expect(() => new Thread({ target: bound })).toThrow(/native or bound function/);
    expect(() => new Thread({ target: Math.max })).toThrow(TypeError);
  });

  it('options that are not an object, and args that are not an array: TypeError', () => {
    expect(() => new Thread(undefined as never)).toThrow(TypeError);
    expect(() => new Thread({ target: () => 1, args: 'abc' as never })).toThrow(/args must be an array/);
  });

  it('starting a thread twice: ConcRuntimeError', async () => {
    const t = new Thread({ target: () => 1, name: 'twice' }).start();
    const e = thrownBy(() => t.start());
    expect(e).toBeInstanceOf(ConcRuntimeError);
    expect(e.message).toMatch(/twice was already started/);
    expect(await finish(t)).toBe(1);
    expect(() => t.start()).toThrow(ConcRuntimeError);
  }, 15_000);

  it('join and joinSync before start: ConcRuntimeError (join rejects)', async () => {
    const t = new Thread({ target: () => 1, name: 'never-started' });
    const e = await rejectionOf(t.join());
    expect(e).toBeInstanceOf(ConcRuntimeError);
    expect(e.message).toMatch(/cannot join never-started before it is started/);
    expect(() => t.joinSync()).toThrow(ConcRuntimeError);
    expect(() => t.joinSync({ timeout: 10 })).toThrow(/before it is started/);
  });

  it('join with a negative or NaN timeout: RangeError (join rejects, joinSync throws)', async () => {
    const t = new Thread({ target: () => 1 }).start();
    await expect(t.join({ timeout: -1 })).rejects.toThrow(RangeError);
    await expect(t.join({ timeout: Number.NaN })).rejects.toThrow(/Thread\.join: timeout/);
    expect(() => t.joinSync({ timeout: -5 })).toThrow(RangeError);
    expect(() => t.joinSync({ timeout: Number.NaN })).toThrow(/Thread\.joinSync: timeout/);
    expect(await finish(t)).toBe(1);
  }, 15_000);

  it('a function nested in args (args[1].cb): DataCloneError naming it; the thread is not started', () => {
    const t = new Thread({ target: (_a: number, _b: unknown) => 1, args: [1, { cb: () => 2 }] });
    const e = thrownBy(() => t.start());
    expect(e).toBeInstanceOf(DataCloneError);
    expect(e.name).toBe('DataCloneError');
    expect(e.message).toContain('args[1].cb');
    expect(t.isAlive()).toBe(false);
    expect(t.threadId).toBeUndefined();
    expect(() => t.joinSync()).toThrow(/before it is started/);
  });

  it('a class instance holding a function in args: DataCloneError naming the argument', () => {
    class Holder {
      value = 1;
      callback = () => 2;
    }
    const t = new Thread({ target: (_a: unknown, _b: unknown) => 1, args: ['fine', { nested: [new Holder()] }] });
    const e = thrownBy(() => t.start());
    expect(e).toBeInstanceOf(DataCloneError);
    expect(e.message).toMatch(/^Thread\.start: args\[1\]\.nested\[0\]: /);
    expect(t.isAlive()).toBe(false);
  });

  it('a symbol in args: DataCloneError naming it', () => {
    const t = new Thread({ target: (_x: unknown) => 1, args: [{ tag: Symbol('s') }] });
    expect(() => t.start()).toThrow(DataCloneError);
    expect(() => t.start()).toThrow(/args\[0\]\.tag is a symbol/);
  });
});
