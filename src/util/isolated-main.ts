import { isErrorCode, type ErrorCode } from './errors.js';
/**
 * The child side of runIsolated (src/util/run-isolated.ts): reads the input as JSON on stdin, runs `work`, writes
 * one JSON answer line on stdout and exits. Progress and logs go to stderr. The child exits when its parent is
 * gone (the IPC channel closes), so a daemon that died does not leave a pull or a conversion running.
 */
export function serveIsolated<I, O>(work: (input: I) => Promise<O>, fallbackCode: ErrorCode = 'E_FAILED'): void {
  process.on('disconnect', () => process.exit(1));
  process.channel?.unref();
  void (async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as I;
    try {
      const value = await work(input);
      await write({ ok: true, value });
    } catch (err) {
      const e = err as Error & { code?: unknown };
      await write({ ok: false, code: isErrorCode(e.code) ? e.code : fallbackCode, message: e.message ?? String(err) });
    }
  })().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

function write(answer: unknown): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(answer)}\n`, () => resolve()));
}
