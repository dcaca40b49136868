// The README's test command (`pnpm test`): build every package, then run every
// check, and end with one line `N passed, N failed`. Exit non-zero if anything
// failed. CI (.ci/run) runs exactly this, with `--also-node 22,24`: the vitest
// suite then runs again on each of those Node versions (fetched with
// `npx -y -p node@N`; its folder goes first on PATH, so vitest's pnpm shim runs
// on it, and so do its forks and every thread and child process the tests
// start, all from process.execPath; apps/demos/test/node-version.test.ts
// checks that). Typecheck, lint and the package checks run once, on the
// machine's Node. The suite also runs once more on the machine's Node with
// CONC_SHM=0: the fallback memory backend (SharedArrayBuffers and the broker),
// what users get where @conc/shm cannot load.
// Each run prints `Node vX: N passed, N failed`; the last line is the total.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';

const usage = 'usage: node scripts/test.mjs [--also-node 22,24]';
const argv = process.argv.slice(2).filter((a) => a !== '--');
const alsoNode = [];
for (let i = 0; i < argv.length; i++) {
  const m = /^--also-node(?:=(.*))?$/.exec(argv[i]);
  if (!m) fail(`unexpected argument ${JSON.stringify(argv[i])}`);
  const value = m[1] ?? argv[++i] ?? '';
  if (!/^\d+(,\d+)*$/.test(value)) fail(`--also-node takes major versions such as 22,24, got ${JSON.stringify(value)}`);
  alsoNode.push(...value.split(','));
}
function fail(why) {
  console.error(`scripts/test.mjs: ${why}\n${usage}`);
  process.exit(2);
}

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };
const steps = [];
const runs = [];

function run(name, cmd, args, extraEnv = {}) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
  const started = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...env, ...extraEnv } });
  const ok = r.status === 0;
  steps.push({ name, ok, s: ((performance.now() - started) / 1000).toFixed(1) });
  return ok;
}

/** Run the vitest suite (on the Node at `node`, its folder put first on PATH; none: this one) and count its tests. */
function vitest(version, node, fallback = false) {
  const report = '.vitest-report.json';
  rmSync(report, { force: true });
  const args = ['run', '--reporter=default', '--reporter=json', `--outputFile=${report}`];
  // The fallback pass: core's and the process suite, where the backends differ
  // most (the other packages' suites run on it in `CONC_SHM=0 vitest run`; CI's
  // 15 minutes do not hold a third full pass).
  if (fallback) args.push('--project', '@conc/core', '--project', '@conc/process');
  const label = fallback ? `${version}, fallback memory (CONC_SHM=0)` : version;
  run(`tests on Node ${label}`, 'vitest', args, {
    ...(node ? { PATH: `${dirname(node)}${delimiter}${env.PATH}` } : {}),
    CONC_TEST_NODE: version.replace(/^v/, '').split('.')[0],
    ...(fallback ? { CONC_SHM: '0' } : {}),
    // Every pass after the first: tests too slow to repeat (50 parents killed) run once.
    ...(runs.length > 0 ? { CONC_TEST_REPEAT: '1' } : {}),
  });
  const counts = { version: label, passed: 0, failed: 0, skipped: 0 };
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    counts.passed = json.numPassedTests;
    counts.failed = json.numFailedTests;
    counts.skipped = json.numPendingTests + json.numTodoTests;
    if (json.numTotalTests === 0) counts.failed += 1;
  } catch {
    counts.failed += 1; // no report: vitest did not run or crashed
  }
  runs.push(counts);
}

/** Fetch Node `major` with npx (outside the timed test step): its exact version and binary, or why not. */
function findNode(major) {
  const how = `npx -y -p node@${major}`;
  const script = 'JSON.stringify([process.version, process.execPath])';
  const r = spawnSync('npx', ['-y', '-p', `node@${major}`, 'node', '-p', script], { encoding: 'utf8', env });
  try {
    const [version, node] = JSON.parse(r.stdout);
    if (version.startsWith(`v${major}.`)) return { version, node };
    return { why: `${how} ran Node ${version}` };
  } catch {
    return { why: `${how} failed: ${r.error ?? r.stderr}` };
  }
}

const built = run('build', 'turbo', ['run', 'build', '--output-logs=errors-only']);
if (built) {
  vitest(process.version);
  // The whole suite again on the fallback backend (no native module: SharedArrayBuffers
  // for threads, the broker for processes), as on a machine where @conc/shm cannot load.
  if (process.env.CONC_SHM !== '0') vitest(process.version, undefined, true);
  for (const major of alsoNode) {
    // The suite runs in this same environment with only PATH changed (running
    // it under npx would hand npx's npm_config_* variables to the tests, and
    // break a nested npx).
    const { version, node, why } = findNode(major);
    if (why) {
      console.error(`\nNode ${major}: ${why}`);
      steps.push({ name: `tests on Node ${major} (not run)`, ok: false, s: '0.0' });
      runs.push({ version: `${major} (not run)`, passed: 0, failed: 1, skipped: 0 });
    } else vitest(version, node);
  }
  run('typecheck', 'turbo', ['run', 'typecheck', '--output-logs=errors-only']);
  run('lint', 'biome', ['check', '.']);
  run('one mechanism (no Atomics wait/notify outside core)', process.execPath, ['scripts/check-one-mechanism.mjs']);
  run('packages install alone', process.execPath, ['scripts/check-packages.mjs']);
  run('generator', process.execPath, ['scripts/check-generator.mjs']);
}

console.log('\nSteps:');
for (const s of steps) console.log(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${s.s} s)`);
const stepFailures = steps.filter((s) => !s.ok).length;
const line = ({ passed, failed, skipped }) =>
  `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
const total = { passed: 0, failed: built ? 0 : 1, skipped: 0 };
for (const r of runs) {
  total.passed += r.passed;
  total.failed += r.failed;
  total.skipped += r.skipped;
}
console.log('');
if (runs.length > 1) for (const r of runs) console.log(`Node ${r.version}: ${line(r)}`);
console.log(line(total));
process.exitCode = stepFailures > 0 || total.failed > 0 ? 1 : 0;
