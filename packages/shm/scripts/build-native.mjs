// The native half of `pnpm build` for @conc/shm: node-gyp compiles native/*.cc
// against this Node's own headers, and the binary is copied to
// prebuilds/<platform>-<arch>/conc_shm.node (in the package's "files": the tarball
// carries it, so an install needs no compiler and runs no install script).
// Where it cannot build (not Linux; no C++ compiler, make or python3 on PATH) it
// prints ONE line saying so, removes any stale binary, writes that line to
// prebuilds/SKIPPED (the package's `reason` quotes it: turbo's errors-only logs
// hide this line) and exits 0: the package then loads with available=false.
// A compiler that is present but fails is an error (exit 1).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

const pkg = new URL('..', import.meta.url).pathname;
const target = `${process.platform}-${process.arch}`;
const outDir = join(pkg, 'prebuilds', target);
const binary = join(outDir, 'conc_shm.node');
const skipped = join(pkg, 'prebuilds', 'SKIPPED');

const onPath = (name) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

function skip(why) {
  const line = `@conc/shm: skipped the native build (${why}); it loads with available=false and conc uses its fallback`;
  rmSync(binary, { force: true });
  mkdirSync(dirname(skipped), { recursive: true });
  writeFileSync(skipped, `${line}\n`);
  console.log(line);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`the futex and memfd are Linux only, this is ${process.platform}`);
const cxx = process.env.CXX ? process.env.CXX.split(' ')[0] : onPath('g++') ? 'g++' : onPath('c++') ? 'c++' : null;
const missing = [
  !(cxx && (cxx.includes('/') ? existsSync(cxx) : onPath(cxx))) && 'C++ compiler (g++ or c++)',
  !onPath('make') && 'make',
  !onPath('python3') && !onPath('python') && 'python3',
].filter(Boolean);
if (missing.length) skip(`no ${missing.join(', no ')} on PATH`);

// node-gyp: npm's own copy beside this Node, else one on PATH.
const prefix = dirname(dirname(process.execPath));
const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = existsSync(bundled) ? [process.execPath, bundled] : onPath('node-gyp') ? ['node-gyp'] : null;
if (!gyp) skip('no node-gyp: neither npm’s bundled copy nor one on PATH');
// Node's own headers (as npm is configured here), so node-gyp downloads nothing.
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : process.env.npm_config_nodedir;
const args = [...gyp.slice(1), 'rebuild', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
// binding.gyp sits in native/, not at the package root: a binding.gyp there makes
// pnpm and npm run an implicit `node-gyp rebuild` at install, which fails with no compiler.
const r = spawnSync(gyp[0], args, { cwd: join(pkg, 'native'), encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write(`${r.stdout}${r.stderr}\n@conc/shm: node-gyp ${args.slice(1).join(' ')} failed\n`);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
copyFileSync(join(pkg, 'native', 'build', 'Release', 'conc_shm.node'), binary);
rmSync(skipped, { force: true });
console.log(`@conc/shm: built ${binary.slice(pkg.length)}`);
