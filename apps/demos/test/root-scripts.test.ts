// `npx -y pnpm@12.4.2 <name>` runs pnpm's own command when pnpm has one of
// that name (`docs` opens a package's documentation in a browser), not the
// root script: every root script the README and CONTRIBUTING tell users to
// run by name must not collide with a pnpm command or alias.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const scripts = Object.keys(JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).scripts);
// pnpm's commands that run the script of that name (when there is one) instead of something else.
const runsTheScript = new Set(['test', 't', 'tst', 'start', 'stop', 'restart', 'clean', 'purge']);

describe('root package.json scripts', () => {
  it('none is shadowed by a pnpm command or alias', () => {
    const help = execFileSync('npx', ['-y', 'pnpm@12.4.2', '--help'], { encoding: 'utf8', timeout: 60_000 });
    const commands = new Set<string>();
    const section = help.slice(help.indexOf('Commands:'), help.indexOf('Options:'));
    for (const line of section.split('\n')) {
      const m = /^ {2}([a-z][a-z-]*)\s/.exec(line);
      if (!m) continue;
      commands.add(m[1]);
      const aliases = /\[aliases?: ([^\]]+)\]/.exec(line);
      if (aliases) for (const a of aliases[1].split(',')) commands.add(a.trim());
    }
    expect(commands.has('install')).toBe(true); // the help was parsed
    expect(commands.has('docs')).toBe(true);
    expect(scripts.filter((s) => commands.has(s) && !runsTheScript.has(s))).toEqual([]);
    expect(scripts).toContain('api-docs');
  }, 70_000);

  it('the README and CONTRIBUTING name only scripts that exist', () => {
    for (const doc of ['README.md', 'CONTRIBUTING.md']) {
      const text = readFileSync(new URL(doc, root), 'utf8');
      for (const m of text.matchAll(/npx -y pnpm@12\.4\.2 ([a-z][a-z-]*)/g)) {
        expect(scripts, `${doc}: npx -y pnpm@12.4.2 ${m[1]}`).toContain(m[1]);
      }
    }
  });
});
