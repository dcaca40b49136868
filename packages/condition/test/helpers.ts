// Shared test helpers (tools/testing), plus this package's fixture module.
import { Worker } from 'node:worker_threads';
import { encode } from '@conc/core';
import { fixtureOf, spawn as spawnTarget } from '@conc/testing';
import type { Thread } from '@conc/thread';

export { finish, pause, sharedInts, untilValue as until } from '@conc/testing';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export const fixture = fixtureOf(targets);

/** Start a thread running fixtures/targets.mjs's `name` and return it. */
export function spawn(name: string, args: unknown[] = []): Thread {
  return spawnTarget(fixture(name), args);
}

/**
 * Start a raw Worker running fixtures/targets.mjs's `name` (args shared as a
 * Thread shares them): unlike a Thread, it can be terminate()d.
 */
export function startWorker(name: string, args: unknown[] = []): Worker {
  return new Worker(new URL('./fixtures/worker.mjs', import.meta.url), {
    workerData: { name, args: encode(args, 'thread', 'args') },
  });
}
