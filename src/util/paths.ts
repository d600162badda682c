import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';

/** The project root, found from this file whether it runs from src/ (vitest) or dist/src/ (compiled). */
export const projectRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('edgefit: cannot find the project root (package.json) above ' + fileURLToPath(import.meta.url));
})();

/**
 * Path of compiled JS for a module under src/, e.g. distModule('engine/worker.js').
 * Worker threads and child processes always run compiled code, also under vitest.
 */
export function distModule(rel: string): string {
  return join(process.env.EDGEFIT_TEST_DIST || join(projectRoot, 'dist'), 'src', rel);
}

/** ../shared/data beside the checkout (tests and benchmarks only; never copied into the repo). */
export const sharedData: string = process.env.EDGEFIT_SHARED_DATA
  ? resolve(process.env.EDGEFIT_SHARED_DATA)
  : resolve(projectRoot, '..', 'shared', 'data');
