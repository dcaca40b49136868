export { Barrier, BrokenBarrierError, type BarrierOptions, type SyncWaitOptions } from './barrier.js';
export { ConcRuntimeError, type WaitOptions } from '@conc/core';
