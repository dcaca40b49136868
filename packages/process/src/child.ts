/**
 * The bootstrap every Process runs in its child (bundled to dist/child.cjs,
 * kept small: start-to-first-line is within a few ms of a raw fork).
 *
 *   1. Wait for the boot message (target, encoded args, name) on the IPC
 *      channel, then unref the channel: it must not keep the child alive.
 *   2. Orphan watch: 'disconnect' of the IPC channel (parent gone) kills the
 *      child; so does a watcher thread that does not share the main thread's
 *      fate (a busy main thread never sees 'disconnect'): the bridge thread
 *      when args hold primitives, else a tiny thread polling process.ppid.
 *   3. If args hold references to a broker's primitives: create the mailbox,
 *      start the bridge thread (client-worker.cjs), load client.cjs (the
 *      reviver). Connections to brokers are made lazily, on first use.
 *   4. Resolve the target (function source, or `{ module, export }`
 *      imported), revive args with core's decode, run it, await it.
 *   5. Success: flush batched queue puts and acknowledgements and wait for
 *      every broker to confirm (so what the child did is visible before its
 *      parent's join returns), then let the event loop drain (exit code 0).
 *      Failure: the same flush, then send { k: 'error', e } and exit(1).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { decode, loadModule } from '@conc/core';
import { serializeError } from '@conc/thread';
import type { ChildBoot } from './process.js';
import { MB_WORDS } from './wire.js';

function suicide(): void {
  process.kill(process.pid, 'SIGKILL');
}

function hasRemote(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as any).__conc_shared__ !== undefined && (value as any).remote !== undefined) return true;
  if (Array.isArray(value)) return value.some(hasRemote);
  if (Object.getPrototypeOf(value) === Object.prototype) return Object.values(value).some(hasRemote);
  return false;
}

const sourceRequire = createRequire(`${process.cwd()}/`);

async function resolveTarget(target: ChildBoot['target']): Promise<(...args: unknown[]) => unknown> {
  if (target.kind === 'source') {
    // eslint-disable-next-line no-new-func
    return new Function('require', `return (${target.source});`)(sourceRequire);
  }
  const mod = (await loadModule(target.url)) as Record<string, unknown>;
  const fn =
    target.export === 'default' && typeof mod.default !== 'function' ? (mod.default as any)?.default : mod[target.export];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new TypeError(
      `Process target: module ${target.url} has no exported function "${target.export}"` +
        (names.length ? ` (its exported functions: ${names.join(', ')})` : ''),
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

let client: typeof import('./client.js') | undefined;

async function run(boot: ChildBoot): Promise<void> {
  const ppid = process.ppid;
  if (hasRemote(boot.args)) {
    const mailbox = new SharedArrayBuffer(MB_WORDS * 4);
    client = createRequire(__filename)(`${__dirname}/client.cjs`) as typeof import('./client.js');
    client.setMailbox(mailbox);
    new Worker(`${__dirname}/client-worker.cjs`, { workerData: { mailbox, ppid } }).unref();
  } else {
    new Worker(
      `const p = ${ppid}; setInterval(() => { if (process.ppid !== p) process.kill(process.pid, 'SIGKILL'); }, 200);`,
      { eval: true },
    ).unref();
  }
  try {
    const [fn, args] = await Promise.all([resolveTarget(boot.target), decode(boot.args)]);
    await fn(...(args as unknown[]));
    if (client) await client.shutdownThread();
    process.exitCode = 0;
  } catch (error) {
    const data = serializeError(error);
    if (boot.target.kind === 'source' && data.name === 'ReferenceError') {
      data.message +=
        ' (a function target is sent to the process as source text and cannot see variables of the scope it was written in:' +
        ' pass them in args, require/import them inside the function, or use { module, export })';
    }
    try {
      if (client) await client.shutdownThread();
    } catch {
      // the parent may be gone; report anyway
    }
    process.send!({ k: 'error', e: data }, () => process.exit(1));
  }
}

process.once('message', (boot: ChildBoot) => {
  process.channel?.unref();
  void run(boot);
});
process.on('disconnect', suicide);
