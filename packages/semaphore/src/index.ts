export { BoundedSemaphore, MAX_SEMAPHORE_VALUE, Semaphore, type SyncWaitOptions } from './semaphore.js';
export { ConcRuntimeError, TimeoutError, type Guard, type WaitOptions } from '@conc/core';
