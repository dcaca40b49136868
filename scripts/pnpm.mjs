/**
 * How the repository's scripts call pnpm: the one running this script if any
 * (a JS entry or a native binary, from npm_execpath), else the pinned one.
 * An argv prefix: spawnSync(pnpm[0], [...pnpm.slice(1), 'install']).
 */
const execpath = process.env.npm_execpath ?? '';
export const pnpm = !execpath.includes('pnpm')
  ? ['npx', '-y', 'pnpm@12.4.2']
  : /\.[cm]?js$/.test(execpath)
    ? [process.execPath, execpath]
    : [execpath];
