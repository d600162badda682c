import { pullModels, type PullOptions } from './pull.js';
import type { Config } from '../config/types.js';

// Runs in a child process of the daemon (src/catalog/pull-isolated.ts): downloads and converts models, so that a
// converter that crashes or balloons on a hostile file takes down this process, not the daemon. Reads
// {config, opts} as JSON on stdin, answers one JSON line on stdout; progress goes to stderr.
async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const { config, opts } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { config: Config; opts: Omit<PullOptions, 'catalog' | 'log'> };
  try {
    const report = await pullModels(config, { ...opts, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`${JSON.stringify({ ok: true, report })}\n`);
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stdout.write(`${JSON.stringify({ ok: false, code: typeof e.code === 'string' ? e.code : 'E_PULL', message: e.message ?? String(err) })}\n`);
  }
}

void main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
