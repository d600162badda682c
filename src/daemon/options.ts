import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';

/** What `edgefit run` gives a daemon, the one-camera one (src/daemon.ts) or the several-camera one. */
export interface DaemonOptions {
  config: Config;
  log: Logger;
  version: string;
  /** print each result as a JSON line on stdout */
  json: boolean;
  /** false: local output only, no broker */
  mqtt: boolean;
  /** print a line to the user (how to watch the topics); stderr by default */
  say?: (line: string) => void;
}
