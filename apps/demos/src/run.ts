/**
 * `pnpm demo` runs every demo, `pnpm demo <name>` one of them.
 *
 * A demo is a module in src/demos/ that exports `main()` (and whatever its
 * threads import, such as `task`). Keeping the top level free of side effects
 * is what lets a thread import the same module to find its target, the way
 * Python's spawn re-imports `__main__`. Each demo runs in a process of its own.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('./demos/', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3))
  .sort();

const [, , wanted, ...rest] = process.argv;

if (wanted === '--inline') {
  // Child mode: run one demo in this process.
  const mod = (await import(pathToFileURL(`${dir}${rest[0]}.js`).href)) as { main(): unknown };
  await mod.main();
} else if (wanted === undefined || wanted === 'all') {
  let failed = 0;
  for (const name of names) {
    console.log(`\n=== ${name} ===`);
    const started = performance.now();
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--inline', name], { stdio: 'inherit' });
    console.log(
      `--- ${name}: ${r.status === 0 ? 'ok' : `FAILED (${r.status ?? r.signal})`} in ${((performance.now() - started) / 1000).toFixed(2)} s`,
    );
    if (r.status !== 0) failed += 1;
  }
  process.exitCode = failed ? 1 : 0;
} else if (names.includes(wanted)) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--inline', wanted], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} else {
  console.error(`Unknown demo "${wanted}". Demos: ${names.join(', ')}`);
  process.exitCode = 2;
}
