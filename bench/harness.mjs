// The benchmark harness. Every row runs conc's primitive and its baselines in
// the same process, one after the other, and prints both rates and the ratio
// against the target from ../shared/BENCHMARKS.md. Numbers are noisy on a
// shared 2-core machine: each rate is the median of several timed runs.
import { arenaBytesInUse } from '@conc/core';
import { spawnSync } from 'node:child_process';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 200);

/**
 * Ops per second of `fn(n)` (which performs n operations, sync or async):
 * grows n until one call lasts MIN_MS, then takes the median of RUNS calls.
 */
export async function rate(fn) {
  let n = 1;
  for (;;) {
    const t = performance.now();
    await fn(n);
    const ms = performance.now() - t;
    if (ms >= MIN_MS / 4) {
      n = Math.max(1, Math.round((n * MIN_MS) / Math.max(ms, 0.001)));
      break;
    }
    n *= 4;
  }
  const rates = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn(n);
    rates.push((n * 1000) / (performance.now() - t));
  }
  return median(rates);
}

/** Median of RUNS results of an async function that measures itself (returns a number). */
export async function repeat(fn, runs = RUNS) {
  const values = [];
  for (let i = 0; i < runs; i++) values.push(await fn());
  return median(values);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let pythonChecked;
/** Run a Python snippet that prints one number; null when python3 is missing. */
export function python(code) {
  if (pythonChecked === undefined) {
    pythonChecked = spawnSync('python3', ['--version']).status === 0;
  }
  if (!pythonChecked) return null;
  const r = spawnSync('python3', ['-c', code], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return Number(r.stdout.trim().split('\n').pop());
}

function fmt(value, unit) {
  if (value === null || value === undefined) return 'skipped';
  if (unit === 'ms') return `${value.toFixed(1)} ms`;
  if (unit === 'bytes') return `${value.toFixed(0)} B`;
  const units = [
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [div, suffix] of units) if (value >= div) return `${(value / div).toFixed(2)} ${suffix}/s`;
  return `${value.toFixed(1)} /s`;
}

const results = [];

/**
 * Print one comparison. `ours` and each baseline: { label, value } where value
 * is a rate (higher is better) or, with unit 'ms' or 'bytes', a cost (lower
 * is better). A baseline's `target` is the ratio ours/baseline we aim for,
 * e.g. { min: 0.5 } (rates) or { max: 1.15 } (costs).
 */
export function report(title, ours, baselines, unit = 'rate') {
  console.log(`\n${title}`);
  console.log(`  ${ours.label.padEnd(34)} ${fmt(ours.value, unit).padStart(12)}`);
  for (const b of baselines) {
    let line = `  ${b.label.padEnd(34)} ${fmt(b.value, unit).padStart(12)}`;
    if (b.value === null || b.value === undefined) {
      line += `   (${b.skipped ?? 'skipped'})`;
    } else if (typeof b.value === 'number' && b.value > 0) {
      const ratio = ours.value / b.value;
      line += `   ratio ${ratio.toFixed(2)}x`;
      if (b.target) {
        const ok = b.target.min !== undefined ? ratio >= b.target.min : ratio <= b.target.max;
        const want = b.target.min !== undefined ? `>= ${b.target.min}x` : `<= ${b.target.max}x`;
        line += `  target ${want}  ${ok ? 'MET' : 'MISSED'}`;
        results.push({ title, baseline: b.label, ratio, want, ok });
      }
    }
    console.log(line);
  }
}

export function summary() {
  if (results.length === 0) return;
  const met = results.filter((r) => r.ok).length;
  console.log(`\nTargets: ${met} met, ${results.length - met} missed`);
  for (const r of results.filter((x) => !x.ok)) {
    console.log(`  MISSED ${r.title} vs ${r.baseline}: ${r.ratio.toFixed(2)}x (target ${r.want})`);
  }
}

/** Shared memory in use now: SharedArrayBuffers plus what the shm arena handed out (@conc/core's memory backends). */
export function sharedBytes() {
  return process.memoryUsage().arrayBuffers + arenaBytesInUse();
}
