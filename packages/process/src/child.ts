/**
 * The bootstrap every Process runs in its child (bundled to dist/child.cjs).
 * It is kept tiny and loads nothing it does not need: start to first line of
 * the target is what a user waits for.
 *
 *   1. Wait for the boot message (target, encoded args, name) on the IPC
 *      channel, then unref the channel: it must not keep the child alive.
 *      Its 'disconnect' (parent gone) kills the child while the main thread
 *      is free.
 *   2. If args hold references to a broker's primitives: load client.cjs
 *      (the reviver, with @conc/core) and start the bridge thread
 *      (client-worker.cjs) first, so that its start overlaps the target's
 *      import; it also watches for the parent's death. Connections to
 *      brokers are made lazily, on first use, each opening with the key
 *      the boot message holds for that broker (kept in this process only).
 *   3. Resolve the target (function source, or `{ module, export }`
 *      imported; a module target's URL also comes in argv, so its import
 *      starts before the boot message is read) and revive the args. While
 *      the module is imported, Thread.start and Process.start refuse to run
 *      (its top level would start children without end); the refusal names
 *      the Process from argv, as the top level may run before the boot
 *      message is read (it does on Node 22 and 24).
 *      A target busy in a loop never lets 'disconnect' be seen: the
 *      parent's watchdog (watchdog.ts) kills this child if the parent dies.
 *      Where the parent has none (`boot.watch`), a tiny watcher thread
 *      starts now, once the target is loaded (a thread starting alongside
 *      the import slows the import down), but before the target runs.
 *   4. Run the target, await it. If the event loop empties while the target
 *      (or its promise) is pending, nothing can settle it any more: that is
 *      a failure ("the target's promise never settled"), as in a Thread.
 *   5. Success: have the last queue puts confirmed and wait for every
 *      broker to say so (so what the child did is visible before its
 *      parent's join returns; a put the owner refused and no later put
 *      reported fails the child now), then let the event loop drain (exit
 *      code 0). Failure: the same, then send { k: 'error', e } and
 *      exit(1).
 */
import { join } from 'node:path';
import {
  type ImportingTarget,
  importModule,
  importingTarget,
  resolveTarget,
  serializeError,
  sourceHint,
  unsettledMessage,
} from '@conc/core/target';
import type { ChildBoot } from './process.js';

const ppid = process.ppid;

function suicide(): void {
  process.kill(process.pid, 'SIGKILL');
}

/** Whether the encoded args (core's `encode`) carry conc primitives (then the bridge is needed). */
function hasPrimitives(args: ChildBoot['args']): boolean {
  return Array.isArray(args.s) && args.s.length > 0;
}

const WATCHER = `const p = ${ppid}; const check = () => { if (process.ppid !== p) process.kill(process.pid, 'SIGKILL'); };
check(); setInterval(check, 200);`;

function startWatcher(): void {
  const wt: typeof import('node:worker_threads') = require('node:worker_threads');
  // stdout/stderr: true, so that creating it does not set up this process's stdio streams.
  new wt.Worker(WATCHER, { eval: true, env: wt.SHARE_ENV, stdout: true, stderr: true }).unref();
}

// While a module target is imported, its top level runs in this child: a
// Thread.start() or Process.start() there would start children without end,
// and is refused (core's target.ts, IMPORTING_TARGET). The name is set once
// the boot message is read (argv has it too).
const importing: ImportingTarget = { in: 'process', url: '' };

function loadTarget(url: string): Promise<unknown> {
  return importingTarget(Object.assign(importing, { url }), () => importModule(url));
}

// The parent passes a module target's URL (and the Process's name, JSON) in
// argv: start importing it now.
if (process.argv[3] !== undefined) importing.name = JSON.parse(process.argv[3]);
const early = process.argv[2] ? { url: process.argv[2], mod: loadTarget(process.argv[2]) } : undefined;
early?.mod.catch(() => {}); // reported when the target is resolved

const loadModuleTarget = (url: string) => (url === early?.url ? early.mod : loadTarget(url));

type Client = typeof import('./client.js');

/** What the child waits for (see fail and 'beforeExit' below); undefined once it has an outcome. */
let waitingFor: 'target' | 'promise' | undefined;

async function run(boot: ChildBoot): Promise<void> {
  let client: Client | undefined;
  // The keys for the brokers our references point to: the bridge shows them;
  // Process.start passes them on to children we hand those references to.
  const keys = boot.keys ?? {};
  if (boot.keys) (globalThis as any)[Symbol.for('conc.process.keys.v1')] = new Map(Object.entries(keys));
  if (hasPrimitives(boot.args)) {
    client = require(join(__dirname, 'client.cjs')) as Client;
    client.startBridge(ppid, keys);
  }
  waitingFor = 'target';
  // A target whose promise never settles: the child's event loop empties
  // while it is pending. It fails as a Thread's does (@conc/thread's worker.ts).
  process.on('beforeExit', () => {
    if (waitingFor === undefined) return;
    void fail(boot, client, new Error(unsettledMessage(`Process ${boot.name}`, 1, waitingFor, boot.target)));
  });
  try {
    let fn: (...args: unknown[]) => unknown;
    let args: unknown;
    if (client)
      [fn, args] = await Promise.all([
        resolveTarget(boot.target, 'Process', loadModuleTarget),
        client.decodeArgs(boot.args),
      ]);
    else {
      fn = await resolveTarget(boot.target, 'Process', loadModuleTarget);
      args = boot.args.v;
      if (boot.watch) startWatcher();
    }
    waitingFor = 'promise';
    await fn(...(args as unknown[]));
    waitingFor = undefined;
    if (client) await client.shutdownThread();
    process.exitCode = 0;
  } catch (error) {
    await fail(boot, client, error);
  }
}

/** Report the target's error to the parent (after flushing queue traffic), then exit(1). */
async function fail(boot: ChildBoot, client: Client | undefined, error: unknown): Promise<void> {
  waitingFor = undefined;
  const data = serializeError(error);
  sourceHint(data, boot.target, 'process');
  try {
    if (client) await client.shutdownThread();
  } catch {
    // the parent may be gone, or this is a later queue error: the target's own error is the one to report
  }
  process.send!({ k: 'error', e: data }, () => process.exit(1));
}

process.on('disconnect', suicide);
process.once('message', (boot: ChildBoot) => {
  process.channel?.unref();
  importing.name = boot.name; // named in the error of a start() refused during the import (argv has it too)
  void run(boot);
});
