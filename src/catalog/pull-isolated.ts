import { spawn } from 'node:child_process';
import { EdgefitError } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import type { Config } from '../config/types.js';
import type { PullOptions, PullReport } from './pull.js';

type Answer = { ok: true; report: PullReport } | { ok: false; code: string; message: string };

/**
 * pullModels in a child process (src/catalog/pull-child.ts): what the daemon runs for the `pull-model` command.
 * Conversion parses untrusted model files (flatbuffers, HDF5, protobuf); a crash or a runaway allocation there
 * ends the child, and the daemon answers with an error and keeps running its current model. Errors the pull
 * reports (bad mirror, unknown id, sha256 mismatch) come back with their codes.
 */
export function pullModelsIsolated(
  config: Config,
  opts: Omit<PullOptions, 'catalog' | 'log'> = {},
  log: (line: string) => void = () => undefined,
  /** the child's script; tests give one that dies */
  childScript = distModule('catalog/pull-child.js'),
): Promise<PullReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      errTail = (errTail + text).slice(-2000);
      for (const line of text.split('\n')) if (line.trim()) log(line);
    });
    child.once('error', (err) => reject(new EdgefitError('E_PULL', `cannot start the model pull process: ${err.message}; the running model is unchanged`, { cause: err })));
    child.once('close', (code, signal) => {
      let answer: Answer | undefined;
      try { answer = JSON.parse(out.trim().split('\n').at(-1) ?? '') as Answer; } catch { /* no answer: it died */ }
      if (answer?.ok) resolve(answer.report);
      else if (answer) reject(new EdgefitError(answer.code, answer.message));
      else {
        const why = errTail.trim().split('\n').at(-1) ?? '';
        reject(new EdgefitError('E_PULL', `the model pull process ended with ${signal ?? `code ${code}`} before answering${why ? ` (${why.slice(0, 300)})` : ''}; the running model is unchanged, and a model file that crashes the converter is not used`));
      }
    });
    child.stdin!.end(JSON.stringify({ config, opts }));
  });
}
