#!/usr/bin/env node
/**
 * One mechanism (DESIGN.md, "How the worlds work"): only @conc/core waits and
 * wakes. This fails if any source file outside packages/core (the packages,
 * the generator's template) calls Atomics.wait, Atomics.waitAsync or
 * Atomics.notify; comments may name them. A package that needs to park or wake
 * asks core (waitSync, waitAsync, wake, the futex functions).
 *
 *   node scripts/check-one-mechanism.mjs [root]    (root: the repository, default cwd)
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.argv[2] ?? process.cwd();
const CALL = /\bAtomics\s*\.\s*(wait|waitAsync|notify)\s*\(/;
/** Where core lives: the one place allowed to call them. */
const OWNERS = new Set([join(root, 'packages', 'core')]);

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'test') continue;
    const path = join(dir, name);
    if (OWNERS.has(path)) continue;
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (/\.(ts|mts|cts|js|mjs|cjs|tmpl)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

/** Blank out comments, keeping line numbers (strings are left: a call inside a string is rare enough to flag). */
function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
}

const offenders = [];
for (const top of ['packages', join('scripts', 'templates')]) {
  let dir;
  try {
    dir = statSync(join(root, top)).isDirectory() ? join(root, top) : undefined;
  } catch {}
  if (!dir) continue;
  for (const file of sources(dir)) {
    const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      const m = CALL.exec(line);
      if (m) offenders.push(`${relative(root, file)}:${i + 1}: Atomics.${m[1]}(...)`);
    });
  }
}

if (offenders.length > 0) {
  console.error(
    `one mechanism: ${offenders.length} call(s) outside @conc/core park or wake on their own; use core's waitSync / waitAsync / wake / futex functions:`,
  );
  for (const o of offenders) console.error(`  ${o}`);
  process.exit(1);
}
console.log('one mechanism: no Atomics.wait / waitAsync / notify outside @conc/core');
