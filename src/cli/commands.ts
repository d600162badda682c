import type { Command } from 'commander';
import { register as zoo } from './zoo.js';

/** Every CLI command registers itself here; each lives in its own file and only parses flags and prints. */
export const commands: Array<(program: Command) => void> = [zoo];
