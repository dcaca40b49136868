export {
  type ExceptHook,
  type ExceptHookArgs,
  Thread,
  type ModuleTarget,
  type Target,
  type ThreadOptions,
  refuseWhileImportingTarget,
  setExcepthook,
  targetSpec,
} from './thread.js';
export { reviveError, serializeError, type SerializedError } from '@conc/core/target';
export { sleep, sleepAsync } from './sleep.js';
export { DataCloneError, ConcRuntimeError } from '@conc/core';
