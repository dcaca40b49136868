// scripts/check-one-mechanism.mjs (a CI step): only @conc/core may call
// Atomics.wait / waitAsync / notify. Checked here on small fake repositories,
// so the checker itself is shown to catch a call and to let comments and core pass.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const checker = fileURLToPath(new URL('../../../scripts/check-one-mechanism.mjs', import.meta.url));
const made: string[] = [];

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'conc-one-mechanism-'));
  made.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [checker, root], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

afterEach(() => {
  for (const root of made.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('check-one-mechanism', () => {
  it('fails on a wait, a waitAsync or a notify outside core, naming file and line', () => {
    for (const call of ['Atomics.wait(w, 0, 0)', 'Atomics.waitAsync(w, 0, 0)', 'Atomics . notify (w, 0)']) {
      const root = repo({ 'packages/x/src/x.ts': `const a = 1;\nexport const f = () => ${call};\n` });
      const r = check(root);
      expect(r.status, r.out).toBe(1);
      expect(r.out).toContain('packages/x/src/x.ts:2');
    }
  });

  it('fails on a call in the generator template', () => {
    const r = check(repo({ 'scripts/templates/primitive/src/p.ts.tmpl': 'Atomics.notify(w, 0);\n' }));
    expect(r.status, r.out).toBe(1);
  });

  it('passes core, comments, tests and dist', () => {
    const r = check(
      repo({
        'packages/core/src/wait.ts': 'Atomics.wait(w, 0, 0);\n',
        'packages/x/src/x.ts':
          '// Atomics.notify(w, 0) is core business\n/* Atomics.wait(w, 0, 0) */\nAtomics.load(w, 0);\n',
        'packages/x/test/x.test.ts': 'Atomics.notify(w, 0);\n',
        'packages/x/dist/index.js': 'Atomics.notify(w, 0);\n',
      }),
    );
    expect(r.status, r.out).toBe(0);
  });
});
