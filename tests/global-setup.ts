import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// Child processes and worker threads run compiled JS from dist/, so the tests build it once first.
// Type errors are reported by `npm run typecheck` (part of `npm test`); here tsc still emits.
export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
    encoding: 'utf8',
  });
  if (r.status !== 0 && r.stdout) process.stderr.write(`tsc (build for child processes) reported:\n${r.stdout.slice(0, 4000)}\n`);
}
