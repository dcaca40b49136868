import { threadId } from 'node:worker_threads';

/**
 * A non-zero Int32 naming the calling thread, used as an owner id (RLock).
 * Shared memory never leaves its process, so `threadId` (unique within a
 * process) is enough; @conc/process gives its proxies ids of their own.
 */
export function currentThreadToken(): number {
  return threadId + 1;
}
