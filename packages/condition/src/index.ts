export { Condition, type ConditionLock, type SyncWaitOptions } from './condition.js';
export { ConcRuntimeError, type WaitOptions } from '@conc/core';
export { Lock, RLock } from '@conc/lock';
