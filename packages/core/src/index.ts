export { ConcRuntimeError, DataCloneError, TimeoutError, errorClass, registerErrorClass } from './errors.js';
export { allocateWords, describeWords, wordsView, type SharedWords } from './memory.js';
export {
  SPIN_ASYNC,
  SPIN_SYNC,
  checkWaitOptions,
  deadlineOf,
  remaining,
  sleepSync,
  spinWhileEqual,
  throwIfAborted,
  waitAsync,
  waitSync,
  type WaitOptions,
  type WaitResult,
} from './wait.js';
export {
  BRAND,
  MARK,
  decode,
  decodeSync,
  encode,
  findUncloneable,
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
export {
  currentThreadToken,
  isThreadGone,
  runAsThread,
  setThreadTokenSource,
  threadLivenessId,
} from './identity.js';
export {
  FUTEX_CONTENDED,
  FUTEX_LOCKED,
  FUTEX_UNLOCKED,
  futexLockAsync,
  futexLockSync,
  futexTryLock,
  futexUnlock,
} from './futex.js';
