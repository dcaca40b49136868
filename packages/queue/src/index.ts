export { Queue, type QueueOptions, type ShutdownOptions, type SyncWaitOptions } from './queue.js';
export { JoinableQueue } from './joinable.js';
export { QueueEmpty, QueueFull, QueueShutDown } from './errors.js';
export { ConcRuntimeError, DataCloneError, type WaitOptions } from '@conc/core';
