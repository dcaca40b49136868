export {
  Thread,
  type ModuleTarget,
  type Target,
  type ThreadOptions,
  refuseWhileImportingTarget,
  targetSpec,
} from './thread.js';
export { reviveError, serializeError, type SerializedError } from './protocol.js';
export { sleep, sleepAsync } from './sleep.js';
export { DataCloneError, ConcRuntimeError } from '@conc/core';
