export { type ExceptHook, type ExceptHookArgs, Thread, type ThreadOptions, setExcepthook } from './thread.js';
export { type ModuleTarget, type Target, refuseWhileImportingTarget, targetSpec } from './target.js';
export { reviveError, serializeError, type SerializedError } from '@conc/core/target';
export { sleep, sleepAsync } from './sleep.js';
export { DataCloneError, ConcRuntimeError } from '@conc/core';
