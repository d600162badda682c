import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // two cores: ORT sessions and ffmpeg children compete, so files run two at a time at most
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'artifacts/vitest-results.json' }]],
  },
});
