export { Event, type SyncWaitOptions } from './event.js';
export type { WaitOptions } from '@conc/core';
