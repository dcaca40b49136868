// "Installs alone": pack every public package as npm would publish it, lint the
// tarballs (publint, are-the-types-wrong), check that every package a dist file
// imports is declared, then install the tarballs into a fresh npm project
// outside the workspace and run an ESM and a CommonJS script there that start a
// Thread, share a Lock and a Queue with it, and check the result; then
// typecheck a consumer of every package there, without @types/node.
// Each failure names the package and the problem; exit code 1 if any.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pnpm } from './pnpm.mjs';

const root = new URL('..', import.meta.url).pathname;
const failures = [];
const fail = (pkg, problem) => {
  failures.push(`${pkg}: ${problem}`);
  console.error(`✗ ${pkg}: ${problem}`);
};

const bin = (name) => join(root, 'node_modules', '.bin', name);

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({
    dir: join(root, 'packages', dir),
    json: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')),
  }))
  .filter((p) => !p.json.private);

const work = mkdtempSync(join(tmpdir(), 'conc-pack-check-'));
const tarballs = [];

for (const { dir, json } of packages) {
  const name = json.name;
  // 1. Pack as published (workspace:^ becomes a real range).
  const before = new Set(readdirSync(work));
  const packed = spawnSync(pnpm[0], [...pnpm.slice(1), 'pack', '--pack-destination', work], {
    cwd: dir,
    encoding: 'utf8',
  });
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz') && !before.has(f));
  if (packed.status !== 0 || !tgz) {
    fail(name, `pnpm pack failed: ${packed.stderr || packed.stdout}`);
    continue;
  }
  const tarball = join(work, tgz);
  tarballs.push(tarball);
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);

  // 2. Every file the exports map, main, module and types name is in the tarball.
  const targets = new Set();
  const walk = (v) => {
    if (typeof v === 'string') targets.add(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(json.exports);
  for (const k of ['main', 'module', 'types']) if (json[k]) targets.add(json[k]);
  for (const t of targets) {
    const path = `package/${t.replace(/^\.\//, '')}`;
    if (!t.endsWith('package.json') && !files.includes(path))
      fail(name, `exports/main/types point at ${t}, which is not in the tarball (check "files" and the build)`);
  }
  if (!files.includes('package/README.md')) fail(name, 'README.md is not in the tarball');

  // 3. Every bare import of the built files is a declared dependency.
  const declared = new Set([...Object.keys(json.dependencies ?? {}), ...Object.keys(json.peerDependencies ?? {})]);
  const builtins = new Set(builtinModules);
  for (const f of files.filter((x) => /^package\/dist\/.*\.(c|m)?js$/.test(x))) {
    const code = readFileSync(join(dir, f.slice('package/'.length)), 'utf8');
    for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"'./][^"']*)["']/g)) {
      const spec = m[1].replace(/^node:/, '');
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (builtins.has(spec) || builtins.has(pkg)) continue;
      if (!declared.has(pkg)) fail(name, `${f.slice(8)} imports "${pkg}", which is not in dependencies`);
    }
  }

  // 4. publint and are-the-types-wrong on the tarball.
  const pl = spawnSync(bin('publint'), ['run', tarball, '--level', 'warning'], { encoding: 'utf8' });
  if (pl.status !== 0) fail(name, `publint:\n${pl.stdout}${pl.stderr}`);
  const attw = spawnSync(bin('attw'), [tarball, '--format', 'ascii', '--no-emoji'], { encoding: 'utf8' });
  if (attw.status !== 0) fail(name, `are-the-types-wrong:\n${attw.stdout}${attw.stderr}`);
  console.log(
    `packed ${name}: ${files.length} files, publint ${pl.status === 0 ? 'ok' : 'FAILED'}, attw ${attw.status === 0 ? 'ok' : 'FAILED'}`,
  );
}

// 5. Install the tarballs alone, outside the workspace, and use them.
const app = join(work, 'app');
execFileSync('mkdir', ['-p', app]);
writeFileSync(
  join(app, 'package.json'),
  JSON.stringify({ name: 'conc-install-check', private: true, version: '0.0.0' }),
);
const npmInstall = spawnSync(
  'npm',
  ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs],
  {
    cwd: app,
    encoding: 'utf8',
  },
);
if (npmInstall.status !== 0) fail('install', `npm install of the tarballs failed:\n${npmInstall.stderr}`);

const has = (pkg) => packages.some((p) => p.json.name === pkg);
const smoke = (kind) => {
  const imp = (what, from) =>
    kind === 'esm' ? `import { ${what} } from '${from}';` : `const { ${what} } = require('${from}');`;
  const withQueue = has('@conc/queue');
  return `${imp('Thread', '@conc/thread')}
${imp('Lock', '@conc/lock')}
${withQueue ? imp('Queue', '@conc/queue') : 'const Queue = null;'}
function work(lock, queue, counter, n) {
  for (let i = 0; i < n; i++) { lock.acquireSync(); counter[0]++; lock.release(); }
  if (queue) queue.putSync({ from: 'thread', n });
  return lock.constructor.name;
}
async function main() {
  const lock = new Lock();
  const queue = Queue ? new Queue() : null;
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const threads = [0, 1].map(() => new Thread({ target: work, args: [lock, queue, counter, 10000] }).start());
  for (const t of threads) await t.join({ timeout: 20000 });
  if (counter[0] !== 20000) throw new Error('counter is ' + counter[0]);
  if (threads[0].result !== 'Lock') throw new Error('the thread got ' + threads[0].result);
  if (queue) for (let i = 0; i < 2; i++) { const item = queue.getSync({ timeout: 5000 }); if (item.from !== 'thread') throw new Error('bad item'); }
  console.log('${kind} ok');
}
main().catch((e) => { console.error(e); process.exit(1); });
`;
};
if (npmInstall.status === 0) {
  writeFileSync(join(app, 'smoke.mjs'), smoke('esm'));
  writeFileSync(join(app, 'smoke.cjs'), smoke('cjs'));
  for (const f of ['smoke.mjs', 'smoke.cjs']) {
    const r = spawnSync(process.execPath, [f], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) fail('install', `${f} in a fresh npm project failed:\n${r.stdout}${r.stderr}`);
    else console.log(`fresh npm project: ${r.stdout.trim()}`);
  }
}

// 6. The public types need no @types/node: a consumer that has none (and the
// default libs, DOM included, plus esnext.disposable for `using`) typechecks
// against every installed package's .d.ts, as ESM (.mts) and CommonJS (.cts),
// with skipLibCheck off so that an error inside our .d.ts counts.
if (npmInstall.status === 0) {
  const names = packages.map((p) => p.json.name);
  const consumer = names.map((n, i) => `import * as m${i} from '${n}';`).join('\n');
  const usage = `${consumer}
export const modules = [${names.map((_, i) => `m${i}`).join(', ')}];
${has('@conc/queue') ? "import { Queue } from '@conc/queue';\nexport const q: Queue<number> = new Queue<number>();" : ''}
`;
  writeFileSync(join(app, 'consumer.mts'), usage);
  writeFileSync(join(app, 'consumer.cts'), usage);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['es2022', 'dom', 'esnext.disposable'],
        types: [],
        skipLibCheck: false,
      },
      files: ['consumer.mts', 'consumer.cts'],
    }),
  );
  const tsc = spawnSync(bin('tsc'), ['-p', join(app, 'tsconfig.json')], { cwd: app, encoding: 'utf8' });
  if (tsc.status !== 0)
    fail('types', `the public types do not typecheck without @types/node:\n${tsc.stdout}${tsc.stderr}`);
  else console.log('fresh npm project: the public types typecheck without @types/node (ESM and CommonJS)');
}

rmSync(work, { recursive: true, force: true });
if (failures.length) {
  console.error(
    `\n${failures.length} package problem(s):\n${failures.map((f) => `  - ${f.split('\n')[0]}`).join('\n')}`,
  );
  process.exitCode = 1;
} else {
  console.log(`\nall ${packages.length} packages pack, lint and install alone`);
}
