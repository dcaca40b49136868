// CI check for the generator: scaffold a package with scripts/new-primitive.mjs,
// link it into the workspace, build it and run its tests untouched, carry it
// into a child Process (with no edit outside its folder: its registerShareable
// spec says how it crosses), then remove it.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pnpm } from './pnpm.mjs';

const root = new URL('..', import.meta.url).pathname;
const name = 'zz-generated-check';
const dir = join(root, 'packages', name);
const step = (cmd, args, cwd = root) => {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
};
const install = () => step(pnpm[0], [...pnpm.slice(1), 'install', '--offline', '--silent', '--no-frozen-lockfile']);

/**
 * The generated primitive in a child Process: the child calls a method
 * (increment, twice) and a blocking one (waitUntilSync), and reads a getter;
 * the parent sees the count and what the child read.
 */
function crossesIntoProcess() {
  const Class = name.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase());
  const script = `
    import { Process } from '@conc/process';
    import { ${Class} } from '@conc/${name}';
    const counter = new ${Class}();
    const p = new Process({
      target: (c) => {
        c.increment();
        c.increment();
        if (c.waitUntilSync(2, { timeout: 10000 }) !== true || c.value !== 2) throw new Error('the child did not see its increments');
      },
      args: [counter],
    }).start();
    await p.join({ timeout: 30000 });
    if (p.exitCode !== 0 || counter.value !== 2) {
      console.error('exitCode', p.exitCode, 'value', counter.value);
      process.exit(1);
    }
    console.log('generator check: the generated primitive crosses into a child process');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    stdio: 'inherit',
    timeout: 60_000,
  });
  if (r.status !== 0)
    throw new Error(`the generated primitive did not cross into a child process (${r.status ?? r.signal})`);
}

rmSync(dir, { recursive: true, force: true });
let ok = false;
try {
  step(process.execPath, ['scripts/new-primitive.mjs', name]);
  install();
  step(join(root, 'node_modules', '.bin', 'tsup'), [], dir);
  step(join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit'], dir);
  step(join(root, 'node_modules', '.bin', 'vitest'), ['run', `packages/${name}`]);
  crossesIntoProcess();
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
    ? 'generator check: a freshly generated package builds, typechecks, passes its tests and crosses into a child process'
    : 'generator check FAILED',
);
process.exitCode = ok ? 0 : 1;
