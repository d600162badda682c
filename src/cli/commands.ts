import type { Command } from 'commander';
import { register as zoo } from './zoo.js';
import { register as config } from './config.js';
import { register as models } from './models.js';
import { register as doctor } from './doctor.js';
import { register as importCmd } from './import.js';
import { register as classify } from './classify.js';
import { register as run } from './run.js';
import { register as profile } from './profile.js';
import { register as selectCmd } from './select.js';
import { register as dashboard } from './dashboard.js';
import { register as quantize } from './quantize.js';

/** Every CLI command registers itself here; each lives in its own file and only parses flags and prints. */
export const commands: Array<(program: Command) => void> = [zoo, config, models, doctor, importCmd, classify, run, profile, selectCmd, dashboard, quantize];
