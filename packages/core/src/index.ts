export { AdaptiveSpin, SPIN_MAX, SPIN_MIN, SPIN_START, threadSpin } from './spin.js';
export { ConcRuntimeError, DataCloneError, TimeoutError, errorClass, registerErrorClass } from './errors.js';
export { allocateWords, describeWords, wordsView, type SharedWords } from './memory.js';
export {
  SPIN_ASYNC,
  SPIN_SYNC,
  checkSleep,
  checkSyncWaitOptions,
  checkWaitOptions,
  deadlineOf,
  refuseWait,
  remaining,
  sleepSync,
  spinWhileEqual,
  throwIfAborted,
  waitAsync,
  waitSync,
  wake,
  type SyncWaitOptions,
  type WaitOptions,
  type WaitResult,
} from './wait.js';
export {
  BRAND,
  decode,
  decodeSync,
  encode,
  type Encoded,
  findUncloneable,
  isEncoded,
  loadModule,
  loadModulesFor,
  registerShareable,
  registeredEntry,
  setProcessSharer,
  setRemoteReviver,
  REMOTE,
  type RemoteRef,
  shareTag,
  type Destination,
  type ShareSpec,
  type ShareEntry,
} from './share.js';
export { Acquirable, type AcquireRelease, type Guard } from './guard.js';
export { MAX_TIMER_MS, setLongTimeout, type LongTimeout } from './timers.js';
export { primitiveItemMessage, uncloneableItemMessage } from './items.js';
export { currentThreadToken, runAsThread, setThreadTokenSource } from './identity.js';
export {
  FUTEX_CONTENDED,
  FUTEX_LOCKED,
  FUTEX_UNLOCKED,
  futexLockAsync,
  futexLockSync,
  futexTryLock,
  futexUnlock,
  LOCK_ACQUIRED,
  LOCK_TIMED_OUT,
  LOCK_TOOK_OVER,
  namedLockSync,
  namedTryLock,
  namedUnlock,
  ROBUST_CHECK_MS,
  robustLockAsync,
  robustLockSync,
  robustTryLock,
  robustUnlock,
} from './futex.js';
export {
  type LivenessBoot,
  adoptLiveness,
  isThreadGone,
  LIVENESS_TICK,
  onLivenessTick,
  prepareThreadWatch,
  threadLivenessId,
  threadDied,
  threadEnded,
} from './liveness.js';
