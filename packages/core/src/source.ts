/**
 * Function targets travel as source text and are rebuilt in the other thread
 * or process with `new Function`. Compilers put calls to module-level helpers
 * inside the functions they compile, and those helpers are not part of the
 * function's source: esbuild (tsx, tsup, vite) emits `__name` (keepNames) and,
 * when it lowers `using` / `await using` (Node 20 has `Symbol.dispose` but
 * not the syntax), `__using` and `__callDispose`; TypeScript emits
 * `__addDisposableResource` and `__disposeResources`. They are provided here,
 * with the semantics of the originals (esbuild's runtime, tslib), so that a
 * target using `using g = lock.guardSync()` runs in a thread or a child.
 */

const keepName = <T extends object>(fn: T, name: string): T =>
  Object.defineProperty(fn, 'name', { value: name, configurable: true });

type SuppressedErrorCtor = new (error: unknown, suppressed: unknown, message: string) => Error;
const Suppressed: SuppressedErrorCtor =
  typeof (globalThis as any).SuppressedError === 'function'
    ? (globalThis as any).SuppressedError
    : (function SuppressedError(error: unknown, suppressed: unknown, message: string) {
        const e = new Error(message) as Error & { error?: unknown; suppressed?: unknown };
        e.name = 'SuppressedError';
        e.error = error;
        e.suppressed = suppressed;
        return e;
      } as unknown as SuppressedErrorCtor);

const disposeSymbol = (Symbol as any).dispose ?? Symbol.for('Symbol.dispose');
const asyncDisposeSymbol = (Symbol as any).asyncDispose ?? Symbol.for('Symbol.asyncDispose');

/** The disposer of `value` for a `using` (or `await using` if `async`) declaration; TypeError if none. */
function disposerOf(value: any, async: boolean): () => unknown {
  if (typeof value !== 'object' && typeof value !== 'function') throw new TypeError('Object expected');
  let dispose: any;
  let inner: any;
  if (async) dispose = value[asyncDisposeSymbol];
  if (dispose === undefined) {
    dispose = value[disposeSymbol];
    if (async) inner = dispose;
  }
  if (typeof dispose !== 'function') throw new TypeError('Object not disposable');
  if (inner) {
    // `await using` of a sync disposable: a throw becomes a rejection.
    return function (this: unknown) {
      try {
        inner.call(this);
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  return dispose;
}

// esbuild's: `__using(stack, value, async)` and `__callDispose(stack, error, hasError)`.
type EsStackEntry = [boolean, (() => unknown)?, unknown?];
function __using(stack: EsStackEntry[], value: unknown, async?: boolean): unknown {
  if (value != null) stack.push([Boolean(async), disposerOf(value, Boolean(async)), value]);
  else if (async) stack.push([true]);
  return value;
}
function __callDispose(stack: EsStackEntry[], error: unknown, hasError: boolean): unknown {
  const fail = (e: unknown) => {
    error = hasError ? new Suppressed(e, error, 'An error was suppressed during disposal') : e;
    hasError = true;
  };
  const next = (): unknown => {
    for (let it = stack.pop(); it; it = stack.pop()) {
      try {
        const result = it[1]?.call(it[2]);
        if (it[0])
          return Promise.resolve(result).then(next, (e) => {
            fail(e);
            return next();
          });
      } catch (e) {
        fail(e);
      }
    }
    if (hasError) throw error;
  };
  return next();
}

// TypeScript's (tslib): `__addDisposableResource(env, value, async)` and `__disposeResources(env)`.
interface TsEnv {
  stack: { value?: unknown; dispose?: () => unknown; async: boolean }[];
  error: unknown;
  hasError: boolean;
}
function __addDisposableResource(env: TsEnv, value: unknown, async: boolean): unknown {
  if (value !== null && value !== undefined) env.stack.push({ value, dispose: disposerOf(value, async), async });
  else if (async) env.stack.push({ async: true });
  return value;
}
function __disposeResources(env: TsEnv): unknown {
  const fail = (e: unknown) => {
    env.error = env.hasError ? new Suppressed(e, env.error, 'An error was suppressed during disposal.') : e;
    env.hasError = true;
  };
  let s = 0;
  const next = (): unknown => {
    for (let r = env.stack.pop(); r; r = env.stack.pop()) {
      try {
        if (!r.async && s === 1) {
          s = 0;
          env.stack.push(r);
          return Promise.resolve().then(next);
        }
        if (r.dispose) {
          const result = r.dispose.call(r.value);
          if (r.async) {
            s |= 2;
            return Promise.resolve(result).then(next, (e) => {
              fail(e);
              return next();
            });
          }
        } else s |= 1;
      } catch (e) {
        fail(e);
      }
    }
    if (s === 1) return env.hasError ? Promise.reject(env.error) : Promise.resolve();
    if (env.hasError) throw env.error;
  };
  return next();
}

const helpers: Record<string, unknown> = {
  __name: keepName,
  __using,
  __callDispose,
  __addDisposableResource,
  __disposeResources,
};
const helperNames = Object.keys(helpers);
const helperValues = Object.values(helpers);

/**
 * Rebuild a function target from its source text, as a function that sees its
 * parameters, globals, the given `require`, and the compiler helpers above.
 */
export function rebuildFunction(source: string, require: (id: string) => unknown): (...args: unknown[]) => unknown {
  // eslint-disable-next-line no-new-func
  return new Function('require', ...helperNames, `return (${source});`)(require, ...helperValues);
}
