// CI check for the generator: scaffold a package with scripts/new-primitive.mjs,
// link it into the workspace, build it and run its tests untouched, then remove it.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const name = 'zz-generated-check';
const dir = join(root, 'packages', name);
// pnpm: the one running this script if any (a JS entry or a native binary), else the pinned one.
const execpath = process.env.npm_execpath ?? '';
const pnpm = !execpath.includes('pnpm')
  ? ['npx', '-y', 'pnpm@12.4.2']
  : /\.[cm]?js$/.test(execpath)
    ? [process.execPath, execpath]
    : [execpath];
const step = (cmd, args, cwd = root) => {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
};
const install = () => step(pnpm[0], [...pnpm.slice(1), 'install', '--offline', '--silent', '--no-frozen-lockfile']);

rmSync(dir, { recursive: true, force: true });
let ok = false;
try {
  step(process.execPath, ['scripts/new-primitive.mjs', name]);
  install();
  step(join(root, 'node_modules', '.bin', 'tsup'), [], dir);
  step(join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit'], dir);
  step(join(root, 'node_modules', '.bin', 'vitest'), ['run', `packages/${name}`]);
  ok = true;
} catch (error) {
  console.error(`generator check: ${error.message}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  try {
    install();
  } catch {
    ok = false;
  }
}
console.log(
  ok
    ? 'generator check: a freshly generated package builds, typechecks and passes its tests'
    : 'generator check FAILED',
);
process.exitCode = ok ? 0 : 1;
