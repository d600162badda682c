import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distModule } from '../../src/util/paths.js';
import { seeded } from '../helpers/consumer.js';

/**
 * Power cut while writing state: a child process rewrites a 4 MB state file in a loop with writeFileAtomic (each
 * version one repeated byte) and is SIGKILLed at seeded random moments. After every kill the file is one whole
 * version: never a mix of two, never short. (The outbox log has its own torn-tail test; this covers the profile
 * cache, cursors, pulled and converted models, which all go through writeFileAtomic.)
 */
describe('writeFileAtomic under SIGKILL', () => {
  it('leaves either the old or the new content, whole, after 12 kills at random moments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-atomic-'));
    const target = join(dir, 'state.bin');
    const size = 4 << 20;
    writeFileSync(target, Buffer.alloc(size, 0x30));
    const script = join(dir, 'writer.mjs');
    writeFileSync(script, `
      const { writeFileAtomic } = await import(${JSON.stringify(distModule('util/atomic.js'))});
      for (let i = 1; ; i++) { await writeFileAtomic(${JSON.stringify(target)}, Buffer.alloc(${size}, 0x30 + (i % 10))); if (i === 1) process.stdout.write('writing\\n'); }
    `);
    const rnd = seeded(1129);
    for (let k = 0; k < 12; k++) {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 5 + Math.floor(rnd() * 120)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect(existsSync(target)).toBe(true);
      const b = readFileSync(target);
      expect(b.length, `kill ${k}: length`).toBe(size);
      const first = b[0]!;
      expect(b.every((x) => x === first), `kill ${k}: one version, not a mix`).toBe(true);
    }
  }, 120_000);
});
