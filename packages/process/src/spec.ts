/**
 * What @conc/process knows about a class: only what the class says in the
 * `process` section of its registerShareable spec (core's ProcessSpec),
 * filled in by its own package. This package names no primitive: the proxy
 * (client-proxy.ts) and the broker (broker-conn.ts) are generic, and the
 * broker calls only the section's hooks.
 *
 * Invariants:
 *   - A child may call only `methods` and read only `getters` (own lists,
 *     never a prototype lookup); a class without a section serves nothing.
 *     The lists are read once per tag and kept to strings other than
 *     `constructor`, whatever a user's section holds.
 *   - `xSync` is served as `x` when `x` is a public method too: the broker
 *     thread never blocks.
 */
import { type ProcessSpec, registeredEntry } from '@conc/core';

export type Spec = ProcessSpec<any>;

const NONE: Spec = { methods: [] };
const specs = new Map<string, Spec>();

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string' && n !== 'constructor') : [];
}

/** The class's section, its name lists cleaned (see the top of this file); an empty one if it has none. */
export function specOf(tag: string): Spec {
  let spec = specs.get(tag);
  if (spec) return spec;
  const given = registeredEntry(tag)?.process;
  if (typeof given !== 'object' || given === null) return NONE;
  spec = { ...given, methods: names(given.methods), getters: names(given.getters), async: names(given.async) };
  specs.set(tag, spec);
  return spec;
}

/** The class's name in messages: `conc.Lock` -> `Lock`. */
export function labelOf(tag: string): string {
  return tag.replace(/^conc\./, '');
}

/** May a child call `name`? */
export function isPublicMethod(spec: Spec, name: string): boolean {
  return spec.methods.includes(name);
}

/** May a child read `name`? */
export function isPublicGetter(spec: Spec, name: string): boolean {
  return spec.getters?.includes(name) === true;
}

/** The method the broker runs for a child's call of `name` (`x` for a public `xSync`). */
export function servedAs(spec: Spec, name: string): string {
  return name.endsWith('Sync') && isPublicMethod(spec, name.slice(0, -4)) ? name.slice(0, -4) : name;
}

/** Parent side: the facts a child's proxy carries (see ProcessSpec.describe). */
export function describeForChild(tag: string, value: unknown): Record<string, unknown> | undefined {
  return specOf(tag).describe?.(value);
}

/** Parent side: the largest item a child may send this primitive in one request (0: the default cap). */
export function requestBytesOf(tag: string, value: unknown): number {
  const n = specOf(tag).requestBytes?.(value);
  return typeof n === 'number' && n > 0 ? n : 0;
}
