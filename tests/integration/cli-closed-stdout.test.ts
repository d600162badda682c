import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DaemonProcess, profiledState, copyState, fastProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Consumer, readCursor } from '../helpers/consumer.js';
import { faultArgs, acceptedSeqs } from '../helpers/fault-daemon.js';
import { projectRoot } from '../../src/util/paths.js';

/**
 * `edgefit run --json | head -n 2`: the reader takes what it wants and closes the pipe. The next write gets
 * EPIPE, which Node reports as an 'error' event on process.stdout; unhandled, it printed a stack trace and
 * killed the daemon mid-flight (exit 1, no `stopped` status, the outbox cut wherever it was). The reader going
 * away must instead stop the daemon as SIGTERM does, quietly, with exit 0.
 */
const cli = join(projectRoot, 'bin', 'edgefit.js');
const stackTrace = /Unhandled 'error' event|Error: write EPIPE|^\s+at .+\(.*:\d+:\d+\)$|node:events/m;

/** Reads `lines` complete JSON lines from the daemon's stdout, then closes the read end as `head` does. */
async function readThenClose(d: DaemonProcess, lines: number): Promise<void> {
  await d.waitFor(() => acceptedSeqs(d.stdout).length >= lines, `${lines} result lines`, 120_000);
  d.proc.stdout!.destroy();
}

async function exited(d: DaemonProcess): Promise<number | null> {
  // a daemon that ignored the closed pipe would run for ever: a generous "did not hang" bound
  const t = setTimeout(() => d.proc.kill('SIGKILL'), 60_000);
  try { return await d.exit; } finally { clearTimeout(t); }
}

let state: string;
beforeAll(async () => {
  state = await profiledState(['mobilenet_v1-0.25-128-int8']);
}, 120_000);

describe('a closed stdout ends the CLI quietly', () => {
  it('run --json --no-mqtt: the daemon stops cleanly and exits 0, without a stack trace', async () => {
    const d = new DaemonProcess(['--no-mqtt', '--json', '--state-dir', copyState(state), '--device-id', 'pipe-1', '--camera', 'lavfi:testsrc2=size=320x240:rate=15', ...fastProfile]);
    await readThenClose(d, 2);
    const code = await exited(d);
    expect(d.stderr).not.toMatch(stackTrace);
    expect(code, d.stderr.slice(-2000)).toBe(0);
    expect(d.stderr).toMatch(/stdout closed/);
    expect(d.stderr).toMatch(/\bstopped\b/);
  });

  it('through a real `| head -n 2`: two lines out, exit 0 for both sides, nothing on stderr but the log', () => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"$NODE" "$CLI" run --no-mqtt --json --state-dir "$STATE" --device-id pipe-2 --camera synthetic ${fastProfile.join(' ')} | head -n 2`], {
      env: { ...process.env, EDGEFIT_CONFIG: '', NODE: process.execPath, CLI: cli, STATE: copyState(state) }, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.stderr).not.toMatch(stackTrace);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2]);
  });

  it('with stderr in the same pipe (`2>&1 | head`): the log lines hit the closed pipe first, still exit 0', () => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"$NODE" "$CLI" run --no-mqtt --json --state-dir "$STATE" --device-id pipe-3 --camera synthetic ${fastProfile.join(' ')} 2>&1 | head -n 2`], {
      env: { ...process.env, EDGEFIT_CONFIG: '', NODE: process.execPath, CLI: cli, STATE: copyState(state) }, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
  });

  it.each([['config', '--schema'], ['config', '--print'], ['models', 'list']])('%s %s with its reader gone exits 0 without a stack trace', async (...args) => {
    const p = spawn(process.execPath, [cli, ...args], { env: { ...process.env, EDGEFIT_CONFIG: '', EDGEFIT_STATE_DIR: state }, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.destroy();
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    expect(stderr).not.toMatch(stackTrace);
    expect(code, stderr).toBe(0);
  });
});

describe('a closed stdout with MQTT: a clean stop, the outbox intact', () => {
  let broker: Mosquitto;
  let consumer: Consumer;
  beforeAll(async () => {
    broker = await Mosquitto.start();
    consumer = await Consumer.start(broker.url, 'pipe-mqtt');
  });
  afterAll(async () => {
    await consumer?.close();
    await broker?.stop();
  });

  it('publishes `stopped`, and every result accepted before the stop is delivered (after a restart for any left in the outbox)', async () => {
    const stateDir = copyState(state);
    const args = faultArgs({ broker: broker.url, deviceId: 'pipe-mqtt', stateDir, set: ['camera.fps=15', 'mqtt.results.maxRatePerSecond=100'] });
    const d = new DaemonProcess(args);
    await readThenClose(d, 3);
    const code = await exited(d);
    expect(d.stderr).not.toMatch(stackTrace);
    expect(code, d.stderr.slice(-2000)).toBe(0);
    await consumer.waitFor(() => consumer.statuses.some((s) => s.state === 'stopped'), 'the clean stop\'s `stopped` status');
    const cursor = readCursor(stateDir);
    expect(cursor.lastSeq).toBeGreaterThanOrEqual(3);

    // whatever the stop left in the outbox goes out at the next start: nothing accepted is lost
    const again = new DaemonProcess(args.filter((a) => a !== '--json'));
    try {
      // events take seqs too (counted by the consumer): `unexplained` is what no drop or event accounts for
      await consumer.waitFor(() => consumer.account(cursor).unexplained <= 0, `results 1..${cursor.lastSeq} delivered`, 120_000);
      // the reopened outbox goes on from its last seq (a reused one would be dropped as a duplicate)
      await consumer.waitFor(() => consumer.maxSeq() > cursor.lastSeq, 'a fresh result after the restart', 120_000);
    } finally {
      expect(await again.stop()).toBe(0);
    }
    expect(consumer.account(cursor).dropped).toBe(0);
  });
});
