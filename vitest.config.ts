import { defineConfig } from 'vitest/config';

// One vitest run over every package and app: each folder with a
// vitest.config.ts is a project (see vitest.shared.ts).
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
