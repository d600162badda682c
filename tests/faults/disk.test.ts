import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, profiledState } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Consumer } from '../helpers/consumer.js';
import { faultArgs, acceptedSeqs, jsonFilesParse } from '../helpers/fault-daemon.js';
import { mountTmpfs as tryMount, umount, fillDisk as fill, canMountTmpfs } from '../helpers/tmpfs.js';

/**
 * Disk full and an unwritable state directory, on a real small tmpfs (needs root to mount; skipped with a note
 * otherwise). Full: appends are refused with a clear error and not reported as accepted, the daemon keeps
 * running, no state file is left corrupt, and once space returns results are accepted and delivered again.
 * Read-only: the daemon refuses to start and says which directory and what to do.
 */
const canMount = canMountTmpfs();
if (!canMount) console.warn('skipped the disk-full tests: cannot mount a tmpfs here (mounting needs root; CI runs as root)');

describe.skipIf(!canMount)('disk full and unwritable state directory (tmpfs)', () => {
  let broker: Mosquitto;
  let base: string;
  const mounts: string[] = [];
  beforeAll(async () => {
    base = await profiledState(['mobilenet_v1-0.25-128-int8']);
    broker = await Mosquitto.start();
  }, 120_000);
  afterAll(async () => {
    for (const m of mounts) umount(m);
    await broker?.stop();
  });

  it('disk full while running: clear error, nothing reported accepted, no corrupt file, recovery when space returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-full-'));
    expect(tryMount(dir, 'size=16m')).toBe(true);
    mounts.push(dir);
    cpSync(base, dir, { recursive: true });
    const c = await Consumer.start(broker.url, 'fault-disk');
    const d = new DaemonProcess(faultArgs({ broker: broker.url, deviceId: 'fault-disk', stateDir: dir, set: ['camera.fps=10', 'mqtt.results.maxRatePerSecond=100'] }));
    try {
      await c.waitFor(() => c.results.size >= 3, 'first results', 120_000);
      const filler = join(dir, 'filler');
      fill(filler);
      const errorsAt = d.stderr.length;
      await d.waitFor(() => /result not accepted.*cannot write the outbox.*free disk space/.test(d.stderr.slice(errorsAt)), 'the refusal in the log', 20_000);
      const acceptedBefore = acceptedSeqs(d.stdout).length;
      const t = c.telemetry.length;
      await c.waitFor(() => c.telemetry.length >= t + 3, 'telemetry while the disk is full', 20_000);
      // refused appends are not printed as accepted; at most the batch in flight when the disk filled
      expect(acceptedSeqs(d.stdout).length - acceptedBefore).toBeLessThanOrEqual(2);
      expect(d.proc.exitCode).toBe(null);
      jsonFilesParse(dir);
      expect(readdirSync(join(dir, 'outbox')).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      rmSync(filler);
      const n = acceptedSeqs(d.stdout).length;
      await d.waitFor(() => acceptedSeqs(d.stdout).length > n + 3, 'results accepted again', 30_000);
      const fresh = acceptedSeqs(d.stdout).at(-1)!;
      await c.waitFor(() => c.results.has(fresh), 'and delivered', 30_000);
      // everything accepted at any time reached the consumer
      const accepted = acceptedSeqs(d.stdout).filter((s) => s <= fresh);
      expect(accepted.filter((s) => !c.results.has(s))).toEqual([]);
    } finally {
      await d.stop('SIGKILL');
      await c.close();
    }
  }, 150_000);

  it('read-only state directory: refuses to start with a message naming the directory and the fix; starts once writable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-ro-'));
    expect(tryMount(dir, 'size=16m')).toBe(true);
    mounts.push(dir);
    cpSync(base, dir, { recursive: true });
    writeFileSync(join(dir, 'marker'), 'x');
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const d = new DaemonProcess(faultArgs({ broker: broker.url, deviceId: 'fault-ro', stateDir: dir }));
    expect(await d.exit).toBe(1);
    expect(d.stderr).toContain(`the state directory ${dir} is not writable`);
    expect(d.stderr).toMatch(/set stateDir \/ EDGEFIT_STATE_DIR to a writable place/);
    execFileSync('mount', ['-o', 'remount,rw', dir]);
    const c = await Consumer.start(broker.url, 'fault-ro');
    const d2 = new DaemonProcess(faultArgs({ broker: broker.url, deviceId: 'fault-ro', stateDir: dir }));
    try {
      await c.waitFor(() => c.results.size >= 1, 'results once writable', 120_000);
    } finally {
      await d2.stop('SIGKILL');
      await c.close();
    }
  }, 150_000);
});
