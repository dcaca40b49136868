// Scaffold a new primitive package: `node scripts/new-primitive.mjs <name> [ClassName]`
// (or `pnpm new-primitive <name>`). Writes packages/<name>/ from
// scripts/templates/primitive/, wired into the workspace by its folder alone:
// pnpm-workspace.yaml takes packages/*, turbo builds it, vitest finds its tests.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const [name, className] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: node scripts/new-primitive.mjs <name> [ClassName]   (name: lower-case, e.g. rwlock)');
  process.exit(2);
}
const Class = className ?? name.replace(/(^|-)([a-z])/g, (_, __, c) => c.toUpperCase());
if (!/^[A-Z][A-Za-z0-9]*$/.test(Class)) {
  console.error(`class name must be PascalCase, got ${Class}`);
  process.exit(2);
}
const root = new URL('..', import.meta.url).pathname;
const template = join(root, 'scripts', 'templates', 'primitive');
const target = join(root, 'packages', name);
if (existsSync(target)) {
  console.error(`packages/${name} already exists`);
  process.exit(1);
}
const fill = (s) => s.replaceAll('__name__', name).replaceAll('__Class__', Class);
function copy(from, to) {
  for (const entry of readdirSync(from)) {
    const src = join(from, entry);
    const dest = join(to, fill(entry).replace(/\.tmpl$/, ''));
    if (statSync(src).isDirectory()) {
      mkdirSync(dest, { recursive: true });
      copy(src, dest);
    } else {
      writeFileSync(dest, fill(readFileSync(src, 'utf8')));
      console.log(`  created ${relative(root, dest)}`);
    }
  }
}
mkdirSync(target, { recursive: true });
copy(template, target);
console.log(`\npackages/${name} is ready. Next: npx -y pnpm@12.4.2 install && npx -y pnpm@12.4.2 test`);
