// CI runs this suite on the machine's Node and again on Node 22 and 24
// (scripts/test.mjs sets CONC_TEST_NODE to the major version of each run).
// A run only tests that Node if the threads and child processes the tests
// start run on it too: they are started from process.execPath, and a plain
// `node` on PATH must be the same one. What `engines` says, the README says
// and CI tests.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Process } from '@conc/process';
import { Queue } from '@conc/queue';
import { Thread } from '@conc/thread';
import { describe, expect, it } from 'vitest';

describe('the Node the tests run on', () => {
  it('is the one CI asked for, and the threads and child processes of the tests run on it', async () => {
    const want = process.env.CONC_TEST_NODE;
    if (want !== undefined) expect(`${process.version} (${process.execPath})`).toMatch(new RegExp(`^v${want}\\.`));

    const thread = new Thread({ target: () => [process.version, process.execPath] }).start();
    expect(await thread.join({ timeout: 20_000 })).toBe(true);
    expect(thread.result).toEqual([process.version, process.execPath]);

    const out = new Queue<string[]>();
    const child = new Process({
      target: (out: Queue<string[]>) => out.put([process.version, process.execPath]),
      args: [out],
    }).start();
    expect(await out.get({ timeout: 20_000 })).toEqual([process.version, process.execPath]);
    expect(await child.join({ timeout: 20_000 })).toBe(true);
    expect(child.exitCode).toBe(0);

    const onPath = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8', timeout: 20_000 }).trim();
    expect(`node on PATH: ${onPath}`).toBe(`node on PATH: ${process.version}`);
  }, 60_000);
});

describe('the supported Node versions', () => {
  const root = new URL('../../../', import.meta.url);
  const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
  const manifests = [
    'package.json',
    'scripts/templates/primitive/package.json.tmpl',
    ...readdirSync(new URL('packages/', root)).map((p) => `packages/${p}/package.json`),
  ];

  it('every package, the root and the generator template declare the same engines; CI tests each, the README names them', () => {
    const engines = new Map(manifests.map((m) => [m, JSON.parse(read(m).replace(/__\w+__/g, 'x')).engines?.node]));
    const range = engines.get('package.json') as string;
    expect([...engines].filter(([, r]) => r !== range)).toEqual([]);
    const majors = range.split('||').map((r) => /^\s*\^(\d+)\.0\.0\s*$/.exec(r)?.[1] ?? `unexpected ${r}`);
    expect(majors.length).toBeGreaterThanOrEqual(3);
    const ci = /--also-node (\S+)/.exec(read('.ci/run'))?.[1].split(',') ?? [];
    expect(ci.length).toBeGreaterThan(0);
    expect(ci.filter((v) => !majors.includes(v))).toEqual([]);
    const listed = `${majors.slice(0, -1).join(', ')} and ${majors.at(-1)}`;
    expect(read('README.md')).toContain(`Supported and tested: Node.js ${listed}`);
  });
});
