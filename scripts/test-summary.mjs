#!/usr/bin/env node
// After `npm test`: one plain closing line from vitest's JSON report ("Tests: N passed, N failed, N skipped").
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(new URL('../artifacts/vitest-results.json', import.meta.url), 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
if (r.numTotalTests === 0) process.exitCode = 1;
