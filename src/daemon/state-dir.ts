import { mkdir, access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

/** The state directory exists and takes an atomic write, or the daemon refuses to start with what to do. */
export async function checkStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    await writeFileAtomic(join(dir, '.write-test'), 'ok');
  } catch (err) {
    throw new EdgefitError('E_STATE_DIR', `the state directory ${dir} is not writable (${errorMessage(err)}); set stateDir / EDGEFIT_STATE_DIR to a writable place with free space`, { cause: err });
  }
}
