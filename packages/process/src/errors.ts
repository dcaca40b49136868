/**
 * Errors across the process boundary: `{ name, message, stack, code }`, the
 * same shape @conc/thread uses (kept here, a few lines, so that the child's
 * bootstrap and the broker do not load all of @conc/thread).
 *
 * A revived error is an instance of the global class of its name when there
 * is one (TypeError, RangeError...), else an Error whose `name` is kept: conc's
 * named errors (QueueShutDown, BrokenBarrierError...) match `instanceof` by
 * name, so they still do.
 */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack, code: (error as any).code };
  }
  return { name: 'Error', message: `non-error thrown: ${String(error)}` };
}

export function reviveError(data: SerializedError): Error {
  // conc's own error classes, registered by @conc/core's registerErrorClass
  // (read through the global key so the child's bootstrap need not load core).
  const registered = (globalThis as any)[Symbol.for('conc.errorClasses.v1')]?.get(data.name);
  const Ctor = registered ?? (globalThis as any)[data.name];
  const error: Error =
    typeof Ctor === 'function' && Ctor.prototype instanceof Error ? new Ctor(data.message) : new Error(data.message);
  if (error.name !== data.name)
    Object.defineProperty(error, 'name', { value: data.name, configurable: true, writable: true });
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) (error as any).code = data.code;
  return error;
}

/** An error of a conc class by name (`QueueShutDown`...), without loading its package. */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  return error;
}
