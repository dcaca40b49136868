// A bundler honours package.json "sideEffects": a package marked free of side
// effects is dropped when nothing it exports is used. conc's primitive
// packages register their classes when loaded (registerShareable, so that an
// instance can be revived in a thread), so `import '@conc/lock'` must survive
// bundling: bundle it with esbuild (tree shaking on) and check, by running
// the bundle, that the classes are registered.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'conc-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const registering: [string, string[]][] = [
  ['lock', ['conc.Lock', 'conc.RLock']],
  ['semaphore', ['conc.Semaphore', 'conc.BoundedSemaphore']],
  ['event', ['conc.Event']],
  ['condition', ['conc.Condition']],
  ['barrier', ['conc.Barrier']],
  ['queue', ['conc.Queue', 'conc.JoinableQueue']],
];

describe("a bundle keeps `import '@conc/<primitive>'` (its classes register when loaded)", () => {
  for (const [pkg, tags] of registering) {
    for (const format of ['esm', 'cjs'] as const) {
      it(`@conc/${pkg} (${format})`, () => {
        const entry = `import '@conc/${pkg}';
import { registeredEntry } from '@conc/core';
console.log(JSON.stringify(${JSON.stringify(tags)}.filter((tag) => registeredEntry(tag) === undefined)));`;
        const out = buildSync({
          stdin: { contents: entry, resolveDir: join(packagesDir, pkg), sourcefile: 'entry.mjs' },
          bundle: true,
          write: false,
          platform: 'node',
          format,
          treeShaking: true,
          logLevel: 'silent',
        });
        const file = join(dir, `${pkg}.${format === 'esm' ? 'mjs' : 'cjs'}`);
        writeFileSync(file, out.outputFiles[0].text);
        const missing = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 10_000 }));
        expect(missing).toEqual([]); // every class registered
      }, 15_000);
    }
  }
});
