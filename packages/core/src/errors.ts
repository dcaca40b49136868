/**
 * Error classes shared by every conc package.
 *
 * Each primitive package defines its own named errors (QueueEmpty,
 * BrokenBarrierError, ...) on top of these; the ones here are the errors any
 * package can raise.
 */

/** A guard (`guard()`, `withLock()`) could not acquire before its timeout. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * A value could not be sent to another thread or process. The message names
 * the argument (`args[1].config.fn`) and what was wrong with it.
 */
export class DataCloneError extends Error {
  override name = 'DataCloneError';
}

/**
 * Thrown when a primitive is used in a way Python would also refuse:
 * releasing an unlocked lock, releasing an RLock one does not own, ...
 * Same role as Python's `RuntimeError` in `threading`.
 */
export class ConcRuntimeError extends Error {
  override name = 'ConcRuntimeError';
}

type ErrorClass = new (message?: string) => Error;
const errorsKey = Symbol.for('conc.errorClasses.v1');
const errorClasses: Map<string, ErrorClass> = ((globalThis as any)[errorsKey] ??= new Map());

/**
 * Register an error class by its name, so an error of that class thrown in
 * another thread or process is rebuilt as that class (`instanceof` holds after
 * `join` rejects with it). Every conc package registers its own errors.
 */
export function registerErrorClass(cls: ErrorClass): void {
  if (!errorClasses.has(cls.name)) errorClasses.set(cls.name, cls);
}

/** The registered error class of that name, if any. */
export function errorClass(name: string): ErrorClass | undefined {
  return errorClasses.get(name);
}

registerErrorClass(TimeoutError);
registerErrorClass(DataCloneError);
registerErrorClass(ConcRuntimeError);
