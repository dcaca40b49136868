/**
 * What a Thread (or a Process, which uses these too) runs, checked in the
 * parent before anything starts: a self-contained function, sent as its
 * source text, or `{ module, export }`, imported on the other side
 * (@conc/core/target resolves it there). And the refusal of a start() made
 * while a module target is being imported (its top level runs again in every
 * thread and child that imports it).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConcRuntimeError } from '@conc/core';
import { IMPORTING_TARGET, type ImportingTarget, type TargetSpec } from '@conc/core/target';

/** A function exported by a module, loaded in the new thread (or process). */
export interface ModuleTarget {
  /** `import.meta.url`-style URL, an absolute path, or a package name. */
  module: string | URL;
  /** Name of the exported function; default `'default'`. */
  export?: string;
}

/** What a Thread (or Process) runs: a self-contained function, or a module export. */
export type Target<A extends unknown[] = any[], R = unknown> = ((...args: A) => R) | ModuleTarget;

/** Check a target and turn it into what the bootstrap needs. Throws at once if it cannot work. */
export function targetSpec(target: unknown, who: string): TargetSpec {
  if (typeof target === 'function') {
    const source = Function.prototype.toString.call(target);
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new TypeError(
        `${who}: target ${target.name || '(anonymous)'} is a native or bound function; its source cannot be sent to another thread`,
      );
    }
    if (/^class[\s{]/.test(source)) throw new TypeError(`${who}: target is a class, not a function`);
    for (const candidate of [source, `function ${source}`, source.replace(/^async\s+/, 'async function ')]) {
      try {
        new Function(`return (${candidate});`);
        return { kind: 'source', source: candidate, name: target.name };
      } catch {
        // try the next spelling (method shorthand)
      }
    }
    throw new TypeError(
      `${who}: the source of target ${target.name || '(anonymous)'} cannot be rebuilt in another thread`,
    );
  }
  if (typeof target === 'object' && target !== null && 'module' in target) {
    const { module, export: name = 'default' } = target as ModuleTarget;
    if (typeof name !== 'string' || name === '')
      throw new TypeError(`${who}: target.export must be a non-empty string`);
    return { kind: 'module', url: moduleUrl(module, who), export: name };
  }
  throw new TypeError(
    `${who}: target must be a function or { module, export }, got ${target === null ? 'null' : typeof target}`,
  );
}

function moduleUrl(module: unknown, who: string): string {
  let url: string;
  if (module instanceof URL) url = module.href;
  else if (typeof module === 'string' && module !== '') {
    if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !isAbsolute(module)) url = module;
    else if (isAbsolute(module) || module.startsWith('.')) url = pathToFileURL(resolvePath(module)).href;
    else return module; // a package name: resolved by the other side's import()
  } else {
    throw new TypeError(`${who}: target.module must be a URL or a non-empty string, got ${String(module)}`);
  }
  if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) {
    throw new Error(`${who}: target module ${url} does not exist`);
  }
  return url;
}

/**
 * Throw if this thread (or child process) is importing a module target right
 * now: `who` (`Thread.start`, `Process.start`) was called by that module's top
 * level (or a module it imports), which runs again in every thread and child
 * that imports it. Starting from there would start threads without end
 * (Python's "bootstrapping phase" error). A target that starts threads when
 * it is called is fine: the import is over by then.
 */
export function refuseWhileImportingTarget(who: string): void {
  const importing = (globalThis as Record<symbol, unknown>)[IMPORTING_TARGET] as ImportingTarget | undefined;
  if (!importing) return;
  const target =
    importing.in === 'thread'
      ? `thread "${importing.name}"`
      : `a child process${importing.name ? ` (Process "${importing.name}")` : ''}`;
  const what = who.startsWith('Process') ? 'a process' : 'a thread';
  const guard =
    importing.in === 'thread'
      ? "wrap it in `if (isMainThread) { ... }` (import { isMainThread } from 'node:worker_threads')"
      : "wrap it in `if (process.argv[1] === fileURLToPath(import.meta.url)) { ... }` (true only in the entry file of the main process; import { fileURLToPath } from 'node:url')";
  throw new ConcRuntimeError(
    `${who}: called while module ${importing.url} is being imported as the target of ${target}, to start ${what}. ` +
      'A module target is imported again in every thread and child process that runs it, so its top-level code runs there too, ' +
      'and starting threads or processes from it would start them without end. ' +
      `Guard the module's main code: ${guard}, or move it into an exported function (e.g. main()) that only the entry file calls.`,
  );
}
