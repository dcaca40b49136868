/**
 * A forwarded call: what a proxy's method does with a call of its class's
 * public API. Three kinds (client-proxy.ts decides which from the
 * ProcessSpec):
 *
 *   blocking  xSync(...): the caller blocks on its wake word until the
 *             reply is in (the main thread too); the broker runs `x`
 *   async     x(...) (async in the spec, or an async function): a Promise;
 *             an AbortSignal in its options becomes an 'abort' frame
 *   sync      anything else (release, tryAcquire, set, getters...): a
 *             blocking round trip
 *
 * Options are checked here, before anything is sent, with the function a
 * thread's call uses (@conc/core's checkWaitOptions; a Sync method refuses a
 * signal with TypeError): a bad call throws (or rejects) what it would in a
 * thread and changes nothing. An error the owner's `x` raises for a child's
 * `xSync` names `xSync`, as in a thread.
 *
 * A result that is a conc primitive arrives as a reference and revives as a
 * proxy of its class (its package must be loaded in this thread for a
 * synchronous call; the async methods load it).
 */
import { type RemoteRef, checkSyncWaitOptions, checkWaitOptions, decode, decodeSync, isEncoded } from '@conc/core';
import { channel } from './client-channel.js';
import { labelOf } from './spec.js';
import type { CallRequest } from './wire.js';

/** What a child receives for a primitive (broker.ts BrokerRef), as the proxy keeps it. */
export interface Ref extends RemoteRef {
  socket: string;
  id: number;
  tag: string;
  info?: Record<string, unknown>;
  /** The largest item the primitive accepts in one request (ProcessSpec.requestBytes). */
  cap?: number;
  mailbox?: SharedArrayBuffer;
  /** Only in references to a thread of this process: this process's key for `socket`. */
  key?: string;
}

export const REF = Symbol('conc.process.ref');

export type CallKind = 'sync' | 'blocking' | 'async';

export function refOf(proxy: object): Ref {
  return (proxy as { [REF]: Ref })[REF];
}

/** Strip the (unclonable) signal from the options at `i`. */
function splitSignal(args: unknown[], i: number): AbortSignal | undefined {
  const o = args[i] as any;
  if (typeof o === 'object' && o !== null && 'signal' in o) {
    const { signal, ...rest } = o;
    args[i] = rest;
    return signal;
  }
  return undefined;
}

/** The owner ran `from` for a call of `to` (`x` for `xSync`): say `to` in its error, as a thread's call would. */
export function relabel(error: unknown, from: string, to: string): unknown {
  if (from === to || !(error instanceof Error) || !error.message.startsWith(`${from}:`)) return error;
  const message = `${to}${error.message.slice(from.length)}`;
  if (typeof error.stack === 'string') error.stack = error.stack.replace(error.message, message);
  error.message = message;
  return error;
}

/** A result holding primitives of the owner (now references) revived as proxies (the broker encodes every object result). */
function resultSync(v: unknown, what: string): unknown {
  if (!isEncoded(v)) return v;
  try {
    return decodeSync(v);
  } catch (error) {
    throw new Error(
      `${what} returned a conc primitive whose class is not loaded in this thread: import its package first, or use the async method (${(error as Error).message})`,
    );
  }
}

function resultAsync(v: unknown): unknown {
  return isEncoded(v) ? decode(v) : v;
}

/** Read public getter `name` of the proxy's primitive. */
export function readGetter(proxy: object, name: string): unknown {
  const ref = refOf(proxy);
  const value = channel().callSync(ref.socket, { k: 'call', o: ref.id, m: name, a: [], g: 1 });
  return resultSync(value, `${labelOf(ref.tag)}.${name}`);
}

/**
 * Forward a call of `name` to the owner. `pair`: a waiting method of an
 * x / xSync pair, whose options (at `s`) are checked here first.
 */
export function forwardCall(proxy: object, name: string, args: unknown[], kind: CallKind, s: number, pair = false) {
  const ref = refOf(proxy);
  const label = labelOf(ref.tag);
  const what = `${label}.${name}`;
  const msg: CallRequest = { k: 'call', o: ref.id, m: name, a: args };
  if (kind === 'sync') return resultSync(channel().callSync(ref.socket, msg), what);
  msg.s = s;
  if (kind === 'blocking') {
    if (pair) checkSyncWaitOptions(args[s] as any, what);
    splitSignal(args, s);
    try {
      return resultSync(channel().callSync(ref.socket, msg), what);
    } catch (error) {
      throw relabel(error, `${label}.${name.slice(0, -4)}`, what);
    }
  }
  try {
    if (pair && args[s] !== undefined) checkWaitOptions(args[s] as any, what);
    const signal = splitSignal(args, s);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return channel().call(ref.socket, msg, signal).then(resultAsync);
  } catch (error) {
    return Promise.reject(error);
  }
}
