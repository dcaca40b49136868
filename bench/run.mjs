// `pnpm bench [filter...]`: run every rows/*.mjs (or those whose name contains a filter).
import { readdirSync } from 'node:fs';
import { summary } from './harness.mjs';

const filters = process.argv.slice(2);
const dir = new URL('./rows/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && !f.includes('.workers.'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
console.log(`conc benchmarks on Node ${process.version}, ${files.length} row file(s). Ratios are ours / baseline.`);
for (const f of files) {
  const mod = await import(new URL(f, dir).href);
  await mod.default();
}
summary();
