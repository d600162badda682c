#!/usr/bin/env node
// The CLI is compiled TypeScript; `npm run build` writes dist/.
import { main } from '../dist/src/cli/index.js';
main(process.argv).catch((err) => {
  console.error(`edgefit: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
