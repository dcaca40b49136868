/**
 * Errors across the process boundary: `{ name, message, stack, code }`, the
 * shape of core's target toolkit (`@conc/core/target`, shared with
 * @conc/thread; serializeError and reviveError are there).
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
import type { SerializedError } from '@conc/core/target';

// Core's target toolkit has them (the same for a Thread): the client revives a
// peer's errors, and the wire types name the shape.
export { reviveError } from '@conc/core/target';
export type { SerializedError };

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

/** An error of a conc class by name (`QueueShutDown`...), without loading its package. */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  return error;
}
