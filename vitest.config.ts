import { defineConfig } from 'vitest/config';

/**
 * Three kinds of test, kept apart so `npm test` stays fast:
 * - unit: one process, real DuckDB files in temp dirs.
 * - integration: real child processes sharing one DuckDB file (`*.int.test.ts`).
 * - property: the cross-process stress suite (`*.property.test.ts`), `npm run test:property`.
 * `npm test` runs unit + integration + the property smoke (`*.smoke.test.ts`).
 */
export default defineConfig({
  test: {
    // Three files at a time on two cores: many tests wait on child processes, and three kept both
    // cores about 90% busy (184 s where two took 288 s; four gave nothing more).
    maxWorkers: 3,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/**/*.int.test.ts', 'tests/**/*.property.test.ts', 'tests/**/*.smoke.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/**/*.int.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'smoke',
          include: ['tests/**/*.smoke.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'property',
          include: ['tests/**/*.property.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
