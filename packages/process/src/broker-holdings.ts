/**
 * What the child processes hold, as the broker keeps it: the context
 * (core's ProcessHoldings) a primitive's `onCall` / `onDeath` hooks get.
 * The broker knows no primitive: it calls the hooks, and they say what a
 * call gave or took back, and what a dead child leaves behind.
 *
 *   - Tokens: each call runs "as" a token of the calling child thread
 *     (negative Int32s, one per (connection, child threadId), never reused),
 *     through core's token source backed by AsyncLocalStorage: ownership
 *     (an RLock's) is per child thread, and an await inside a method keeps
 *     the caller's token.
 *   - Books, broker-wide: `hold(value)` says this connection holds it (a
 *     Lock), `drop(value)` that nobody does (whoever releases it). A value is
 *     identified by its words (two revived objects over the same words are
 *     one primitive), else by the object itself.
 *   - A hook that throws is reported on stderr; the connection is served on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type ProcessCall, type ProcessHoldings, setThreadTokenSource, shareTag } from '@conc/core';
import { specOf } from './spec.js';

const als = new AsyncLocalStorage<number>();
setThreadTokenSource(() => als.getStore());

/** Run `fn` as child-thread token `token`. */
export function runAs<R>(token: number, fn: () => R): R {
  return als.run(token, fn);
}

let nextToken = 0;

/** A fresh token for a child thread (never reused). */
export function newToken(): number {
  nextToken -= 1;
  return nextToken;
}

/** The connection whose holdings these are (broker-conn.ts). */
export interface Holder {
  readonly closed: boolean;
  /** Child threadId -> token. */
  readonly tokens: Map<number, number>;
}

const bufferIds = new WeakMap<object, number>();
let nextBuffer = 0;

/** The identity of a primitive's state: its words' buffer and offset. */
function keyOf(value: object): object | string {
  const w = (value as { words?: unknown }).words;
  if (!(w instanceof Int32Array)) return value;
  let id = bufferIds.get(w.buffer);
  if (id === undefined) bufferIds.set(w.buffer, (id = ++nextBuffer));
  return `${id}:${w.byteOffset}`;
}

/** Broker-wide: the connection that holds each value. */
const holders = new Map<object | string, Holder>();

/** Report a hook's failure (it must not stop the broker). */
export function hookFailed(what: string, tag: string, error: unknown): void {
  process.stderr.write(`conc broker: ${what} of ${tag} failed: ${(error as Error)?.message ?? String(error)}\n`);
}

/** The hooks' view of `holder`'s holdings, for a call made as `token`. */
export function holdingsOf(holder: Holder, token: number): ProcessHoldings {
  const h: ProcessHoldings = {
    get gone() {
      return holder.closed;
    },
    token,
    get tokens() {
      return holder.tokens.values();
    },
    as: runAs,
    hold: (value) => {
      holders.set(keyOf(value), holder);
    },
    drop: (value) => {
      holders.delete(keyOf(value));
    },
    letGo: (value) => {
      const key = keyOf(value);
      if (holders.get(key) !== holder) return false;
      holders.delete(key);
      return true;
    },
    holds: (value) => holders.get(keyOf(value)) === holder,
    held: (value) => holders.has(keyOf(value)),
    forward: (value, call) => {
      const tag = shareTag(value);
      if (tag !== undefined) specOf(tag).onCall?.(value, call, h);
    },
    forwardDeath: (value) => {
      const tag = shareTag(value);
      if (tag !== undefined) specOf(tag).onDeath?.(value, h);
    },
  };
  return h;
}

/** Tell `value`'s hooks about a phase of a call. */
export function noteCall(tag: string, value: unknown, call: ProcessCall, h: ProcessHoldings): void {
  const onCall = specOf(tag).onCall;
  if (!onCall) return;
  try {
    onCall(value, call, h);
  } catch (error) {
    hookFailed(`the books of ${call.name}`, tag, error);
  }
}

/** `holder` is gone: give back what it holds of `value`. */
export function noteDeath(tag: string, value: unknown, holder: Holder): void {
  const onDeath = specOf(tag).onDeath;
  if (!onDeath) return;
  try {
    onDeath(value, holdingsOf(holder, 0));
  } catch (error) {
    hookFailed('giving back what a dead child held', tag, error);
  }
}
