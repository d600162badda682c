import { defineConfig } from 'vitest/config';

// Two projects: `main` runs two files at a time; `serial` holds the tests whose subject is timing under load
// (live re-selection under an injected CPU load, reconnect spread, broker outages against a 20-result outbox,
// the search's monotonic-latency premise, the browser at fleet scale). `npm test` runs `serial` after `main`,
// one file at a time, on a quiet machine (in CI, beside the QEMU jobs at nice 19: .ci/run).
export default defineConfig({
  test: {
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: process.env.EDGEFIT_TEST_JSON ?? 'artifacts/vitest-results.json' }]],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['tests/**/*.test.ts'], exclude: ['tests/serial/**'], maxWorkers: 2 },
      },
      {
        extends: true,
        test: { name: 'serial', include: ['tests/serial/**/*.test.ts'], maxWorkers: 1, fileParallelism: false },
      },
    ],
  },
});
