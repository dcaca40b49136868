/**
 * Errors across the process boundary: `{ name, message, stack, code }`, the
 * same shape @conc/thread uses (kept here, a few lines, so that the child's
 * bootstrap and the broker do not load all of @conc/thread).
 *
 * A revived error is an instance of the global class of its name when there
 * is one (TypeError, RangeError...), else an Error whose `name` is kept: conc's
 * named errors (QueueShutDown, BrokenBarrierError...) match `instanceof` by
 * name, so they still do.
 *
 * Two directions, two rules. A child reports its target's error to its
 * parent with the stack (`serializeError`: the parent's `join` rethrows it,
 * as a Thread's). A broker answers a peer with `peerError`: the error's
 * name, message, code and own scalar properties (QueueShutDown's `dropped`,
 * say), never its stack, whose paths and frames are the owner's internals
 * (Python's manager sends a remote error's formatted traceback; conc's rule
 * is to send peers none). The caller's own stack is the one it sees.
 */
import { inspect } from 'node:util';

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  /** Own enumerable properties whose values are scalars (peerError). */
  props?: Record<string, string | number | boolean | bigint | null>;
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

/** An error as a broker sends it to a peer: no stack, nothing but scalars. */
export function peerError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: `non-error thrown: ${String(error)}` };
  const out: SerializedError = { name: String(error.name), message: String(error.message) };
  const code = (error as any).code;
  if (code !== undefined && (typeof code === 'string' || typeof code === 'number')) out.code = code;
  let props: SerializedError['props'];
  for (const key of Object.keys(error)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'code') continue;
    const v = (error as any)[key];
    const type = typeof v;
    if (v === null || type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint') {
      (props ??= {})[key] = v;
    }
  }
  if (props) out.props = props;
  return out;
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
  if (data.props) {
    for (const [k, v] of Object.entries(data.props)) {
      if (!(k in error))
        Object.defineProperty(error, k, { value: v, enumerable: true, configurable: true, writable: true });
    }
  }
  return error;
}

/** An error of a conc class by name (`QueueShutDown`...), without loading its package. */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  return error;
}
