import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runIsolated, IsolatedFailure } from '../../src/util/run-isolated.js';
import { distModule } from '../../src/util/paths.js';
import { waitFor } from '../helpers/wait.js';

const work = mkdtempSync(join(tmpdir(), 'edgefit-isolated-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const serve = pathToFileURL(distModule('util/isolated-main.js')).href;
let n = 0;
/** A child module: `body` is the work function's body, given `input`. */
function child(body: string): string {
  const p = join(work, `child-${++n}.mjs`);
  writeFileSync(p, `import { serveIsolated } from ${JSON.stringify(serve)};\nserveIsolated(async (input) => { ${body} });\n`);
  return p;
}

// a timer keeps the child's event loop alive: an unresolved promise alone would let it exit
const HANG = 'setInterval(() => {}, 1000); await new Promise(() => {});';

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

describe('runIsolated: a module in a child process, killed with everything it started', () => {
  it('answers with the value; a refusal comes back with its code; stderr lines are passed on', async () => {
    const lines: string[] = [];
    expect(await runIsolated(child("process.stderr.write('step 1\\nstep 2\\n'); return { twice: input.x * 2 };"), { x: 21 }, { timeoutMs: 30_000, onStderrLine: (l) => lines.push(l) })).toEqual({ twice: 42 });
    expect(lines).toEqual(['step 1', 'step 2']);
    await expect(runIsolated(child("throw Object.assign(new Error('no such model'), { code: 'E_CATALOG' });"), {}, { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'E_CATALOG', message: 'no such model' });
  });

  it('a crash (abort) is an IsolatedFailure `crashed` with the stderr tail', async () => {
    const err = await runIsolated(child("process.stderr.write('parsing layer 7\\n'); process.abort();"), {}, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsolatedFailure);
    expect(err).toMatchObject({ end: 'crashed', detail: 'ended with SIGABRT before answering' });
    expect((err as IsolatedFailure).stderrTail).toContain('parsing layer 7');
  });

  it('past the timeout the child AND what it started are killed (SIGKILL to the process group)', async () => {
    const pids = join(work, 'pids.json');
    const script = child(`
      const { spawn } = await import('node:child_process');
      const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      (await import('node:fs')).writeFileSync(${JSON.stringify(pids)}, JSON.stringify({ child: process.pid, grandchild: g.pid }));
      process.on('SIGTERM', () => {});
      await new Promise(() => {});`);
    const t0 = Date.now();
    const err = await runIsolated(script, {}, { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ end: 'timeout', detail: 'killed after 1.5 s without an answer' });
    expect(Date.now() - t0).toBeLessThan(30_000);
    const { child: c, grandchild: g } = JSON.parse(readFileSync(pids, 'utf8')) as { child: number; grandchild: number };
    expect(alive(c)).toBe(false);
    await waitFor(() => !alive(g), 'the grandchild to be gone', 5000);
  });

  it('a child that runs its own isolated child (a pull converting): killing the outer one kills the inner one too', async () => {
    const pids = join(work, 'nested.json');
    const inner = child(`(await import('node:fs')).writeFileSync(${JSON.stringify(pids)}, String(process.pid)); for (;;) {}`);
    const outer = child(`const { runIsolated } = await import(${JSON.stringify(pathToFileURL(distModule('util/run-isolated.js')).href)}); await runIsolated(${JSON.stringify(inner)}, {}, { timeoutMs: 600000 });`);
    const p = runIsolated(outer, {}, { timeoutMs: 60_000, signal: AbortSignal.timeout(3000) }).catch((e: unknown) => e);
    const pid = await waitFor(() => { try { return Number(readFileSync(pids, 'utf8')) || false; } catch { return false; } }, 'the inner child to start', 30_000);
    expect(await p).toMatchObject({ end: 'aborted' });
    // stuck in a busy loop, it never sees its lifeline close: only the kill reaches it
    await waitFor(() => !alive(pid), 'the inner child to be gone', 5000);
  });

  it('past the memory limit the child is killed (`memory`)', async () => {
    const err = await runIsolated(child('const hold = []; for (;;) { hold.push(Buffer.alloc(16 << 20, 1)); await new Promise((r) => setTimeout(r, 5)); }'), {}, { timeoutMs: 60_000, maxRssMb: 200 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ end: 'memory', detail: expect.stringMatching(/^killed at \d+ MB resident, over its limit of 200 MB$/) });
  });

  it('an abort kills it at once (`aborted`); an abort before the start starts nothing', async () => {
    const ac = new AbortController();
    const p = runIsolated(child(HANG), {}, { timeoutMs: 60_000, signal: ac.signal }).catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 300);
    expect(await p).toMatchObject({ end: 'aborted' });
    expect(await runIsolated(child('return 1;'), {}, { timeoutMs: 60_000, signal: ac.signal }).catch((e: unknown) => e)).toMatchObject({ end: 'aborted' });
  });

  it('a child whose parent died (SIGKILL: no cleanup ran) exits by itself instead of running on', async () => {
    const pidFile = join(work, 'orphan.pid');
    const hang = child(`(await import('node:fs')).writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); ${HANG}`);
    const parentScript = join(work, 'parent.mjs');
    writeFileSync(parentScript, `import { runIsolated } from ${JSON.stringify(pathToFileURL(distModule('util/run-isolated.js')).href)};\nawait runIsolated(${JSON.stringify(hang)}, {}, { timeoutMs: 600000 });\n`);
    const parent = spawn(process.execPath, [parentScript], { stdio: 'ignore' });
    const pid = await waitFor(() => { try { return Number(readFileSync(pidFile, 'utf8')) || false; } catch { return false; } }, 'the child to start', 30_000);
    parent.kill('SIGKILL');
    await waitFor(() => !alive(pid), 'the orphaned child to exit', 10_000);
  });
});
