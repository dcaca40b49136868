// Shared test helpers (tools/testing), plus this package's fixture module.
import type { Worker } from 'node:worker_threads';
import { fixtureOf, spawn as spawnTarget } from '@conc/testing';
import { Thread } from '@conc/thread';

export { finish, pause, sharedInts, untilValue as until } from '@conc/testing';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export const fixture = fixtureOf(targets);

/** Start a thread running fixtures/targets.mjs's `name` and return it. */
export function spawn(name: string, args: unknown[] = []): Thread {
  return spawnTarget(fixture(name), args);
}

/**
 * Start a Thread running fixtures/targets.mjs's `name` and return its Worker,
 * which the tests can terminate() (a Thread has no terminate, as in Python).
 * A Thread, not a raw Worker: only conc's threads are watched for their death.
 */
export function startWorker(name: string, args: unknown[] = []): Worker {
  const t = new Thread({
    target: { module: new URL('./fixtures/targets.mjs', import.meta.url), export: name },
    args,
  }).start();
  return (t as unknown as { worker: Worker }).worker;
}
