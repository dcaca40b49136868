// Thread targets for the semaphore rows (loaded by module reference in the workers).
import { Semaphore } from '@conc/semaphore';
import { startLine } from './event.workers.mjs';

export { rawPingPong } from './event.workers.mjs';

/** Semaphore ping-pong: release theirs, acquire mine (the ponger acquires first). */
export function semaphorePingPong([mine, theirs], go, n, ping) {
  startLine(go);
  for (let i = 0; i < n; i++) {
    if (ping) theirs.release();
    if (!mine.acquireSync({ timeout: 30_000 })) throw new Error('semaphorePingPong: timed out');
    if (!ping) theirs.release();
  }
}

export { Semaphore };
