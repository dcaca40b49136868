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
import { inspect } from 'node:util';

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
}

/**
 * Never throws, whatever was thrown: a value that is not an Error becomes an
 * Error saying "a non-Error value was thrown: <the value, as util.inspect
 * shows it>" (the same as @conc/thread's serializeError).
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    try {
      const { name, message, stack } = error;
      const code = (error as { code?: unknown }).code;
      return {
        name: typeof name === 'string' ? name : 'Error',
        message: typeof message === 'string' ? message : describeThrown(message),
        stack: typeof stack === 'string' ? stack : undefined,
        code: typeof code === 'string' || typeof code === 'number' ? code : undefined,
      };
    } catch {
      // a getter threw: describe it as any other value
    }
  }
  return { name: 'Error', message: `a non-Error value was thrown: ${describeThrown(error)}` };
}

function describeThrown(value: unknown): string {
  try {
    const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
  } catch {
    return `a value of type ${typeof value}`;
  }
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
