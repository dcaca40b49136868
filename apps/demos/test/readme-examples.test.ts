// The first ```ts example of every package README, run as written: a
// newcomer copies it into a file and runs it. Each is written inside its
// package (so its `@conc/...` imports resolve as they would for a user: the
// package itself, and its dependencies), with the TypeScript types stripped
// (Node 20 runs no TypeScript), then run with node. It must exit 0 and print
// what the README says it prints: the ```text block that follows the example
// (compared line by line, in any order: thread output interleaves), or
// nothing if the README shows no output. Every package README has one.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it, onTestFinished } from 'vitest';

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));

interface Example {
  pkg: string;
  dir: string;
  code: string;
  expected: string[];
}

/** The README's first ```ts block, and the ```text block right after it (before any other text block or heading). */
function firstExample(readme: string): { code: string; expected: string[] } | undefined {
  const start = readme.search(/^```ts\n/m);
  if (start < 0) return undefined;
  const body = start + '```ts\n'.length;
  const end = readme.indexOf('\n```\n', body);
  const code = readme.slice(body, end + 1);
  const rest = readme.slice(end + '\n```\n'.length);
  const next = rest.search(/^(```|#)/m);
  const expected =
    next >= 0 && rest.startsWith('```text\n', next)
      ? rest
          .slice(next + '```text\n'.length, rest.indexOf('\n```', next + '```text'.length))
          .split('\n')
          .filter((l) => l !== '')
      : [];
  return { code, expected };
}

const examples: Example[] = readdirSync(packagesDir)
  .filter((pkg) => {
    try {
      return readFileSync(join(packagesDir, pkg, 'README.md'), 'utf8').length > 0;
    } catch {
      return false;
    }
  })
  .sort()
  .map((pkg) => {
    const dir = join(packagesDir, pkg);
    const found = firstExample(readFileSync(join(dir, 'README.md'), 'utf8'));
    if (!found) throw new Error(`packages/${pkg}/README.md has no \`\`\`ts example`);
    return { pkg, dir, ...found };
  });

/** Strip the types: what tsx or a build would run. Module syntax and top-level await stay. */
function toJs(code: string): string {
  return ts.transpileModule(code, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    reportDiagnostics: false,
  }).outputText;
}

function runFile(file: string, cwd: string, timeout: number) {
  // A process group of its own, killed whole at the end: an example that
  // starts threads or processes without end must not outlive the test.
  const child = spawn(process.execPath, [file], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  onTestFinished(killGroup);
  const timer = setTimeout(killGroup, timeout);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

describe('the first example of every package README runs as written', () => {
  it('finds every package README and its example', () => {
    expect(examples.map((e) => e.pkg)).toEqual(
      readdirSync(packagesDir)
        .filter((p) => !p.startsWith('.'))
        .sort(),
    );
    for (const e of examples) expect(e.code).toMatch(/from '@conc\//);
  });

  for (const example of examples) {
    it(`packages/${example.pkg}/README.md`, async () => {
      const file = join(example.dir, `.readme-example-${process.pid}.mjs`);
      writeFileSync(file, toJs(example.code));
      onTestFinished(() => rmSync(file, { force: true }));
      const out = await runFile(file, example.dir, 30_000);
      const lines = out.stdout.split('\n').filter((l) => l !== '');
      expect({ code: out.code, signal: out.signal, stderr: out.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      expect([...lines].sort()).toEqual([...example.expected].sort());
    }, 40_000);
  }
});
