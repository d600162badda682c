import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rmSync } from 'node:fs';

// Child processes and worker threads run compiled JS, so the tests build it first, into a directory of this
// run's own (EDGEFIT_TEST_DIST, read by bin/edgefit.js and distModule), so that two test runs at once never
// read each other's half-written files. Type errors are reported by `npm run typecheck` (part of `npm test`).
export default function setup(): () => void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const out = join(root, '.test-dist', String(process.pid));
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', out], {
    encoding: 'utf8',
  });
  if (r.status !== 0 && r.stdout) process.stderr.write(`tsc (build for child processes) reported:\n${r.stdout.slice(0, 4000)}\n`);
  process.env.EDGEFIT_TEST_DIST = out;
  return () => rmSync(out, { recursive: true, force: true });
}
