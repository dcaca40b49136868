export { Process, type ProcessOptions } from './process.js';
export { DataCloneError, ConcRuntimeError } from '@conc/core';
export type { ModuleTarget, Target } from '@conc/thread';
