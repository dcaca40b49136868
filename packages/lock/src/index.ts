export { Lock, type SyncWaitOptions } from './lock.js';
export { RLock } from './rlock.js';
export { ConcRuntimeError, TimeoutError, type Guard, type WaitOptions } from '@conc/core';
