// Shared test helpers (tools/testing), plus this package's fixture module.
import type { Worker } from 'node:worker_threads';
import { fixtureOf, spawnKillable, spawn as spawnTarget } from '@conc/testing';
import type { Thread } from '@conc/thread';

export { finish, pause, sharedInts, untilValue as until } from '@conc/testing';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export const fixture = fixtureOf(targets);

/** Start a thread running fixtures/targets.mjs's `name` and return it. */
export function spawn(name: string, args: unknown[] = []): Thread {
  return spawnTarget(fixture(name), args);
}

/** Start a Thread running fixtures/targets.mjs's `name`; its Worker, which a test can terminate(). */
export function startWorker(name: string, args: unknown[] = []): Worker {
  return spawnKillable({ module: new URL('./fixtures/targets.mjs', import.meta.url), export: name }, args);
}
