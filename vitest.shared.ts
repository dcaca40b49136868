import { defineProject } from 'vitest/config';

// Shared by every package's one-line vitest.config.ts. Tests run real worker
// threads and child processes, so each waiting test carries its own timeout and
// this default is the backstop that turns a hang into a failure.
export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
