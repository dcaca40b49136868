// Shared test helpers (tools/testing), plus this package's fixture module.
import { fixtureOf } from '@conc/testing';

export {
  type AnyTarget,
  beforeTimeout,
  finish,
  run,
  sharedInts,
  spawn,
  untilWord as until,
  within,
} from '@conc/testing';

export const targets = new URL('./fixtures/targets.mjs', import.meta.url);

/** A module target from fixtures/targets.mjs. */
export const fixture = fixtureOf(targets);
