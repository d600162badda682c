import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { profiledState, fastProfile } from '../helpers/daemon.js';
import { freePort } from '../helpers/mosquitto.js';

/**
 * sd_notify as systemd sees it: a unix datagram socket (python3, Node has none) that logs every message with the
 * wall-clock time. The daemon runs under NOTIFY_SOCKET + WATCHDOG_USEC like a Type=notify unit.
 *
 * The watchdog rule under test (src/daemon.ts startTimers): with WatchdogSec=W, WATCHDOG=1 is sent every
 * max(1 s, W/3) while the last inference result is younger than G = max(W, 5 s), or while an operator paused
 * inference (a deliberate pause must not end in a restart that undoes it). When results stop without a pause
 * (camera gone, engine hung), the pings stop at most G + one period after the last result, and systemd restarts.
 */
const LISTENER = `
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
# what systemd does: the kernel attaches the sender's credentials, NotifyAccess=main compares their PID
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    for line in data.decode("utf8", "replace").split("\\n"):
        if line:
            print(f"{int(time.time() * 1000)} {pid} {line}", flush=True)
`;

const W_MS = 3000;
const PERIOD_MS = Math.max(1000, W_MS / 3);
const GRACE_MS = Math.max(W_MS, 5000);

type Note = { at: number; pid: number; msg: string };

/** The datagram listener, ready to receive; every message it prints lands in `notes`. */
async function startListener(sock: string, notes: Note[]): Promise<ChildProcess> {
  const listener = spawn('python3', ['-c', LISTENER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    listener.on('error', reject);
    listener.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'listening') { resolve(); continue; }
        const m = /^(\d+) (\d+) (.*)$/.exec(line);
        if (m) notes.push({ at: Number(m[1]), pid: Number(m[2]), msg: m[3]! });
      }
    });
  });
  return listener;
}

describe('systemd notify protocol and PM2 ready (a real daemon, a real datagram socket)', () => {
  let listener: ChildProcess;
  let daemon: ChildProcess;
  const notes: Note[] = [];
  const results: number[] = [];
  let stderr = '';
  let ipcReady = false;
  let exitCode: Promise<number | null>;
  let brokerUrl = '';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-notify-'));
    const sock = join(dir, 'notify.sock');
    listener = await startListener(sock, notes);
    // a finite camera: every test photo three times at 4 fps (about 14 s), then the input ends (camera.loop=false)
    const photos = join(dir, 'photos');
    mkdirSync(photos);
    const src = join(sharedData, 'images/test');
    for (const round of [0, 1, 2]) for (const f of readdirSync(src).filter((x) => /\.(jpg|bmp)$/.test(x))) symlinkSync(join(src, f), join(photos, `${round}-${f}`));
    const state = await profiledState(['mobilenet_v1-0.25-128-int8']);
    // started as the unit starts it: through bin/edgefit-notify-exec, which exec()s node (same PID)
    daemon = spawn(join(projectRoot, 'bin/edgefit-notify-exec'), [process.execPath, join(projectRoot, 'bin/edgefit.js'), 'run', '--state-dir', state, '--camera', `folder:${photos}`, '--device-id', 'notify-1',
      '--set', 'camera.loop=false', '--set', 'camera.fps=4', '--set', 'mqtt.results.mode=every', ...fastProfile], {
      cwd: projectRoot,
      env: { ...process.env, EDGEFIT_CONFIG: '', NOTIFY_SOCKET: sock, WATCHDOG_USEC: String(W_MS * 1000) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    daemon.on('message', (m) => { if (m === 'ready') ipcReady = true; });
    exitCode = new Promise((r) => daemon.on('exit', (c) => r(c)));
    const end = Date.now() + 120_000;
    while (!/mosquitto_sub -h (\S+) -p (\d+)/.test(stderr)) {
      if (Date.now() > end || daemon.exitCode !== null) throw new Error(`daemon did not start:\n${stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const m = /mosquitto_sub -h (\S+) -p (\d+)/.exec(stderr)!;
    brokerUrl = `mqtt://${m[1]}:${m[2]}`;
  }, 180_000);

  afterAll(() => {
    if (daemon?.exitCode === null) daemon.kill('SIGKILL');
    listener?.kill('SIGKILL');
  });

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const pings = (from = 0, to = Infinity) => notes.filter((n) => n.msg === 'WATCHDOG=1' && n.at >= from && n.at <= to);

  it('READY=1 (with a STATUS line) before any WATCHDOG=1, sent by the main PID itself (NotifyAccess=main); PM2 gets process.send("ready")', async () => {
    const until = Date.now() + 30_000;
    while (!(notes.some((n) => n.msg === 'READY=1') && ipcReady) && Date.now() < until) await sleep(50);
    const ready = notes.find((n) => n.msg === 'READY=1')!;
    expect(ready).toBeDefined();
    expect(notes.some((n) => /^STATUS=running \S+/.test(n.msg))).toBe(true);
    // systemd drops a message whose sender (SCM_CREDENTIALS) is not the unit's main process
    expect(notes.filter((n) => n.pid !== daemon.pid).map((n) => `${n.pid}: ${n.msg}`), `main PID ${daemon.pid}`).toEqual([]);
    expect(pings(0, ready.at - 1)).toEqual([]);
    expect(ipcReady).toBe(true);
  });

  it('WATCHDOG=1 while results flow and while paused by an operator; none once the input ended', async () => {
    const c = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4 });
    c.on('message', (t) => { if (t.endsWith('/result')) results.push(Date.now()); });
    await c.subscribeAsync('edgefit/notify-1/#', { qos: 1 });
    const flowing = Date.now();
    while (results.length < 3) await sleep(50);
    await sleep(2 * PERIOD_MS + 200);
    expect(pings(flowing).length).toBeGreaterThanOrEqual(2);

    // paused: no results, but the pause is deliberate, so the watchdog keeps being fed well past the grace
    await c.publishAsync('edgefit/notify-1/cmd/pause', '{}', { qos: 1 });
    await sleep(300);
    const pausedAt = Date.now();
    const resultsAtPause = results.length;
    await sleep(GRACE_MS + 2 * PERIOD_MS);
    expect(results.length).toBeLessThanOrEqual(resultsAtPause + 1);
    expect(pings(pausedAt + GRACE_MS).length).toBeGreaterThanOrEqual(1);
    await c.publishAsync('edgefit/notify-1/cmd/resume', '{}', { qos: 1 });
    const resumedAt = Date.now();

    // the folder ends (camera.loop=false): results stop, and so do the pings after the grace
    const end = Date.now() + 60_000;
    while (!/camera input ended/.test(stderr) && Date.now() < end) await sleep(100);
    expect(stderr).toMatch(/camera input ended/);
    const last = results.at(-1)!;
    await sleep(GRACE_MS + 3 * PERIOD_MS);
    const slack = 1500; // the datagram (and the listener printing it) comes a little after the decision
    // (if the folder ran out during the pause, the pause's own pings end at the resume)
    const late = pings(Math.max(last + GRACE_MS, resumedAt) + PERIOD_MS + slack);
    expect(late.map((p) => p.at - last), 'pings after the grace').toEqual([]);
    expect(pings(last).length).toBeGreaterThanOrEqual(1); // fed right after the last result, so the test can fail
    await c.endAsync();
  }, 120_000);

  it('SIGTERM: STOPPING=1, then a clean exit 0', async () => {
    daemon.kill('SIGTERM');
    expect(await exitCode).toBe(0);
    await sleep(500);
    expect(notes.some((n) => n.msg === 'STOPPING=1')).toBe(true);
    // the watchdog pings and STOPPING=1 too
    expect(notes.filter((n) => n.pid !== daemon.pid).map((n) => `${n.pid}: ${n.msg}`)).toEqual([]);
    expect(stderr).toMatch(/SIGTERM: stopping/);
  });
});

describe('systemd watchdog with the camera down (a real daemon, an RTSP camera that does not answer)', () => {
  let listener: ChildProcess | undefined;
  let daemon: ChildProcess | undefined;
  afterAll(() => {
    if (daemon?.exitCode === null) daemon.kill('SIGKILL');
    listener?.kill('SIGKILL');
  });

  it('keeps feeding the watchdog past the grace while the camera restarts itself: a restart would not bring it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-notify-down-'));
    const sock = join(dir, 'notify.sock');
    const notes: Note[] = [];
    listener = await startListener(sock, notes);
    // nothing listens on this port: ffmpeg's connection is refused at every attempt
    const camera = `rtsp://127.0.0.1:${await freePort()}/cam`;
    const state = await profiledState(['mobilenet_v1-0.25-128-int8']);
    let stderr = '';
    daemon = spawn(join(projectRoot, 'bin/edgefit-notify-exec'), [process.execPath, join(projectRoot, 'bin/edgefit.js'), 'run', '--state-dir', state, '--camera', camera, '--device-id', 'notify-2',
      '--no-mqtt', '--set', 'camera.watchdogSeconds=1', ...fastProfile], {
      cwd: projectRoot,
      env: { ...process.env, EDGEFIT_CONFIG: '', NOTIFY_SOCKET: sock, WATCHDOG_USEC: String(W_MS * 1000) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const end = Date.now() + 120_000;
    while (!notes.some((n) => n.msg === 'READY=1')) {
      if (Date.now() > end || daemon.exitCode !== null) throw new Error(`daemon did not get ready:\n${stderr.slice(-3000)}`);
      await sleep(50);
    }
    const ready = notes.find((n) => n.msg === 'READY=1')!.at;
    // the camera has had its first restarts by now, and never delivered a frame
    while (!/camera restart scheduled/.test(stderr) && Date.now() < end) await sleep(100);
    expect(stderr).toMatch(/camera restart scheduled/);
    await sleep(GRACE_MS + 3 * PERIOD_MS);
    // no inference result ever came: only the cameras-down rule can have fed it this late
    const late = notes.filter((n) => n.msg === 'WATCHDOG=1' && n.at > ready + GRACE_MS + PERIOD_MS);
    expect(late.length, stderr.slice(-2000)).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
