export { AdaptiveSpin, SPIN_MAX, SPIN_MIN, SPIN_START } from './spin.js';
export { ConcRuntimeError, DataCloneError, TimeoutError, errorClass, registerErrorClass } from './errors.js';
export {
  allocateLocalWords,
  allocateWords,
  crossesProcesses,
  describeWords,
  wordsView,
  type SharedWords,
} from './memory.js';
export { memoryBackend, type BackendName } from './backend.js';
export { arenaBytesInUse } from './arena.js';
export { processAlive } from './liveness.js';
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
  isEncoded,
  loadModule,
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
  type ProcessSpec,
  type ProcessCall,
  type ProcessHoldings,
  type ProcessFeed,
  type ProcessLend,
} from './share.js';
export {
  WALK_SKIP,
  WALK_STOP,
  WalkReplacement,
  walk,
  walkReplace,
  type WalkAt,
  type WalkOptions,
  type WalkStep,
  type WalkVisitor,
} from './walk.js';
export { Acquirable, type AcquireRelease, type Guard } from './guard.js';
export { MAX_TIMER_MS, setLongTimeout, type LongTimeout } from './timers.js';
export {
  findUncloneable,
  itemCloneError,
  itemRefusal,
  primitiveItemMessage,
  uncloneableItemMessage,
} from './clone.js';
export { currentThreadToken, setThreadTokenSource } from './identity.js';
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
  NAMED_CHECK_MS,
  NAMED_CONTENDED,
  namedHolder,
  namedLockSync,
  namedTakeOrMark,
  namedTakeOver,
  namedTryLock,
  namedUnlock,
  namedWaitFreeAsync,
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
