#!/usr/bin/env node
// After `npm test`: one plain closing line from vitest's JSON reports ("Tests: N passed, N failed, N skipped").
import { readFileSync } from 'node:fs';

let passed = 0, failed = 0, skipped = 0, total = 0;
for (const f of ['vitest-results.json', 'vitest-serial.json']) {
  const r = JSON.parse(readFileSync(new URL(`../artifacts/${f}`, import.meta.url), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  total += r.numTotalTests;
}
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (total === 0) process.exitCode = 1;
