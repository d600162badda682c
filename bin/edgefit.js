#!/usr/bin/env node
// The CLI is compiled TypeScript; `npm run build` writes dist/ (the test harness builds its own copy).
const dist = process.env.EDGEFIT_TEST_DIST || new URL('../dist', import.meta.url).pathname;
const { main } = await import(`${dist}/src/cli/index.js`);
main(process.argv).catch((err) => {
  console.error(`edgefit: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
