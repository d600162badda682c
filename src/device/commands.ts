import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Runs a command and returns its stdout, or null when it is missing or fails: probes report what they can. */
export type RunCommand = (cmd: string, args: string[]) => Promise<string | null>;

export const runCommand: RunCommand = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5000, encoding: 'utf8' }, (err, stdout) => resolve(err ? null : stdout));
  });

/** Where a recorded tree keeps command outputs: `<root>/commands/<cmd>_<args joined by _>.txt`. */
export function recordedCommandFile(root: string, cmd: string, args: string[]): string {
  const name = [cmd, ...args].join('_').replace(/[^A-Za-z0-9_.-]/g, '-');
  return join(root, 'commands', `${name}.txt`);
}

/** Replays outputs recorded on a real board, so a recorded tree never runs this machine's commands. */
export function recordedCommands(root: string): RunCommand {
  return async (cmd, args) => {
    try {
      return await readFile(recordedCommandFile(root, cmd, args), 'utf8');
    } catch {
      return null;
    }
  };
}
