// The README's test command (`pnpm test`): build every package, then run every
// check, and end with one line `N passed, N failed`. Exit non-zero if anything
// failed. CI (.ci/run) runs exactly this.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1' };
const steps = [];

function run(name, cmd, args) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
  const started = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  const ok = r.status === 0;
  steps.push({ name, ok, s: ((performance.now() - started) / 1000).toFixed(1) });
  return ok;
}

const report = '.vitest-report.json';
rmSync(report, { force: true });
const built = run('build', 'turbo', ['run', 'build', '--output-logs=errors-only']);
let passed = 0;
let failed = 0;
let skipped = 0;
if (built) {
  run('tests', 'vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile=${report}`]);
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed = json.numPassedTests;
    failed = json.numFailedTests;
    skipped = json.numPendingTests + json.numTodoTests;
    if (json.numTotalTests === 0) failed += 1;
  } catch {
    failed += 1;
  }
}

if (built) {
  run('typecheck', 'turbo', ['run', 'typecheck', '--output-logs=errors-only']);
  run('lint', 'biome', ['check', '.']);
  run('packages install alone', process.execPath, ['scripts/check-packages.mjs']);
  run('generator', process.execPath, ['scripts/check-generator.mjs']);
}

console.log('\nSteps:');
for (const s of steps) console.log(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${s.s} s)`);
const stepFailures = steps.filter((s) => !s.ok).length;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = stepFailures > 0 || failed > 0 ? 1 : 0;
