// `using g = lock.guardSync()` in a function target. Node 20 has no `using`
// syntax, so TypeScript and esbuild lower it into calls to module-level
// helpers (esbuild: __using, __callDispose, and __name with keepNames;
// TypeScript: __addDisposableResource, __disposeResources). A function target
// is sent as its source text, without those helpers: the thread and the child
// must provide them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Lock } from '@conc/lock';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { Thread } from '@conc/thread';
import { transformSync } from 'esbuild';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { finish, rejectionOf } from './helpers.js';

const source = `
import type { Lock } from '@conc/lock';
import type { Queue } from '@conc/queue';

/** Reports whether the lock is held inside the using block; returns after the guard is disposed. */
export function withGuard(lock: Lock, out: Queue<unknown>) {
  {
    using g = lock.guardSync();
    out.putSync(lock.locked);
  }
  out.putSync(lock.locked);
}

/** The same, with await using, and an error thrown inside the block. */
export async function withAsyncGuardThrows(lock: Lock, out: Queue<unknown>) {
  await using g = await lock.guard();
  using g2 = { [Symbol.dispose]: () => out.putSync('inner disposed') };
  out.putSync(lock.locked);
  throw new RangeError('thrown while holding');
}
`;

const dir = mkdtempSync(join(tmpdir(), 'conc-using-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Targets = { withGuard: (...a: any[]) => unknown; withAsyncGuardThrows: (...a: any[]) => unknown };

async function compiled(compiler: 'esbuild' | 'typescript'): Promise<Targets> {
  const code =
    compiler === 'esbuild'
      ? transformSync(source, { loader: 'ts', target: 'es2022', format: 'esm', keepNames: true }).code
      : ts.transpileModule(source, {
          compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
        }).outputText;
  // The lowering is what this test is about: make sure it happened.
  if (compiler === 'esbuild') expect(code).toMatch(/__using\(/);
  else expect(code).toMatch(/__addDisposableResource\(/);
  expect(code).not.toMatch(/\busing g\b/);
  const file = join(dir, `${compiler}.mjs`);
  writeFileSync(file, code);
  return (await import(pathToFileURL(file).href)) as Targets;
}

function drain(q: Queue<unknown>): unknown[] {
  const items: unknown[] = [];
  while (!q.empty()) items.push(q.getNowait());
  return items;
}

for (const compiler of ['esbuild', 'typescript'] as const) {
  describe(`a function target with 'using', compiled by ${compiler}`, () => {
    it('runs in a Thread: held inside the block, released after', async () => {
      const { withGuard, withAsyncGuardThrows } = await compiled(compiler);
      for (let round = 0; round < 3; round++) {
        const lock = new Lock();
        const out = new Queue<unknown>();
        const t = new Thread({ target: withGuard, args: [lock, out] }).start();
        expect(await t.join({ timeout: 15_000 })).toBe(true);
        expect(drain(out)).toEqual([true, false]);
        expect(lock.locked).toBe(false);
      }
      const lock = new Lock();
      const out = new Queue<unknown>();
      const t = new Thread({ target: withAsyncGuardThrows, args: [lock, out] }).start();
      const e = await rejectionOf(t.join({ timeout: 15_000 }));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toBe('thrown while holding');
      expect(drain(out)).toEqual([true, 'inner disposed']);
      expect(lock.locked).toBe(false); // released by the await using, despite the throw
    }, 30_000);

    it('runs in a Process: held inside the block, released after', async () => {
      const { withGuard, withAsyncGuardThrows } = await compiled(compiler);
      const lock = new Lock();
      const out = new Queue<unknown>();
      const p = new Process({ target: withGuard, args: [lock, out] }).start();
      await finish(p);
      expect(p.exitCode).toBe(0);
      expect(drain(out)).toEqual([true, false]);
      expect(lock.locked).toBe(false);
      const p2 = new Process({ target: withAsyncGuardThrows, args: [lock, out] }).start();
      const e = await rejectionOf(p2.join({ timeout: 20_000 }));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toBe('thrown while holding');
      expect(drain(out)).toEqual([true, 'inner disposed']);
      expect(lock.locked).toBe(false);
    }, 45_000);
  });
}
