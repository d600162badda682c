import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { projectRoot } from '../../src/util/paths.js';
import { freePort, mosquittoPath, waitForPort } from '../helpers/mosquitto.js';
import { DaemonProcess, profiledState, copyState, fastProfile } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';

const deploy = join(projectRoot, 'deploy/mosquitto');

const until = <T>(fn: () => T | undefined | false, what: string, ms = 20_000): Promise<T> => waitFor(fn, what, ms);

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost. */
function makeCerts(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=edgefit test CA'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'], dir);
}

/** Runs deploy/mosquitto/add-device.sh against the temp files; returns the password it printed. */
function addUser(dir: string, name: string, role: 'device' | 'operator' | 'dashboard', password?: string): string {
  const args = [join(deploy, 'add-device.sh'), ...(role === 'device' ? [] : [`--${role}`]), name, '--passwd', join(dir, 'edgefit.passwd'), '--acl', join(dir, 'edgefit.acl'), '--no-reload', ...(password ? ['--password-stdin'] : [])];
  const r = spawnSync('bash', args, { input: password ? `${password}\n` : undefined, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`add-device.sh ${name}: ${r.stderr}`);
  const m = /password (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`no password printed: ${r.stdout}`);
  return m[1]!;
}

describe('production mosquitto: deploy/mosquitto/edgefit.conf + edgefit.acl + add-device.sh (real broker)', () => {
  let dir: string;
  let proc: ChildProcess;
  let log = '';
  let plain: number;
  let tls: number;
  const pw: Record<string, string> = {};
  const clients: MqttClient[] = [];

  const client = async (user: string | undefined, opts: IClientOptions = {}): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${plain}`, {
      protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...(user ? { username: user, password: pw[user] } : {}), ...opts,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefit-broker-'));
    makeCerts(dir);
    copyFileSync(join(deploy, 'edgefit.acl'), join(dir, 'edgefit.acl'));
    pw['cam-a'] = addUser(dir, 'cam-a', 'device');
    pw['cam-b'] = addUser(dir, 'cam-b', 'device');
    pw.ops = addUser(dir, 'ops', 'operator');
    pw.dash = addUser(dir, 'dash', 'dashboard', 'dashboard-password');
    plain = await freePort();
    tls = await freePort();
    const conf = readFileSync(join(deploy, 'edgefit.conf'), 'utf8')
      .replaceAll('/etc/mosquitto/certs/', `${dir}/`)
      .replaceAll('/etc/mosquitto/', `${dir}/`)
      .replace(/^listener 8883$/m, `listener ${tls} 127.0.0.1`)
      .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${plain} 127.0.0.1`);
    expect(conf).toContain(`listener ${tls} 127.0.0.1`);
    writeFileSync(join(dir, 'mosquitto.conf'), `persistence false\nlog_dest stderr\nlog_type all\n${conf}`);
    // mosquitto started as root drops to its own user, which must read these; the password file as add-device.sh
    // made it (root:mosquitto 0640), so a file the broker cannot read fails the start here as on a board
    chmodSync(dir, 0o755);
    for (const f of ['edgefit.acl', 'ca.crt', 'server.crt', 'server.key']) chmodSync(join(dir, f), 0o644);
    proc = spawn(mosquittoPath(), ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-100_000); });
    await waitForPort(plain);
    await waitForPort(tls);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    proc?.kill('SIGKILL');
  });

  it('add-device.sh: refuses names that would widen the patterns, and a device name that is an operator', () => {
    for (const bad of ['cam/a', 'cam+', '#', 'a b', '']) {
      const r = spawnSync('bash', [join(deploy, 'add-device.sh'), bad, '--passwd', join(dir, 'x.passwd'), '--acl', join(dir, 'edgefit.acl'), '--no-reload'], { encoding: 'utf8' });
      expect(r.status, bad).toBe(2);
      expect(r.stderr).toMatch(/must be 1-64 letters/);
    }
    const r = spawnSync('bash', [join(deploy, 'add-device.sh'), 'ops', '--passwd', join(dir, 'x.passwd'), '--acl', join(dir, 'edgefit.acl'), '--no-reload'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/operator or dashboard user/);
    // the operator section was written once however often the script ran
    expect(readFileSync(join(dir, 'edgefit.acl'), 'utf8').match(/^user ops$/gm)).toHaveLength(1);
  });

  it('add-device.sh: never silently re-passwords an existing user, and never turns a device into an operator', () => {
    const d = mkdtempSync(join(tmpdir(), 'edgefit-adddev-'));
    copyFileSync(join(deploy, 'edgefit.acl'), join(d, 'edgefit.acl'));
    const run = (...args: string[]) => spawnSync('bash', [join(deploy, 'add-device.sh'), ...args, '--passwd', join(d, 'edgefit.passwd'), '--acl', join(d, 'edgefit.acl'), '--no-reload'], { encoding: 'utf8' });
    const line = (name: string) => readFileSync(join(d, 'edgefit.passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    expect(run('kitchen-cam').status).toBe(0);
    const kept = line('kitchen-cam');
    expect(kept).toBeDefined();
    const aclBefore = readFileSync(join(d, 'edgefit.acl'), 'utf8');
    // a typo'd operator name that is a device's: the device would lose its password and gain cmd/# on the fleet
    const op = run('--operator', 'kitchen-cam');
    expect({ status: op.status, stderr: op.stderr }).toMatchObject({ status: 1, stderr: expect.stringMatching(/kitchen-cam already has the role "device"/) });
    expect(line('kitchen-cam')).toBe(kept);
    expect(readFileSync(join(d, 'edgefit.acl'), 'utf8')).toBe(aclBefore);
    // running it again for the same device is refused too, unless asked for with --rekey
    const again = run('kitchen-cam');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists.*--rekey/);
    expect(line('kitchen-cam')).toBe(kept);
    const rekey = run('kitchen-cam', '--rekey');
    expect(rekey.status, rekey.stderr).toBe(0);
    expect(line('kitchen-cam')).not.toBe(kept);
    // --rekey keeps the role: it cannot change one either
    expect(run('--dashboard', 'kitchen-cam', '--rekey').status).toBe(1);
    expect(run('--dashboard', 'grafana').status).toBe(0);
    const g = run('--operator', 'grafana', '--rekey');
    expect(g.status).toBe(1);
    expect(g.stderr).toMatch(/grafana already has the role "dashboard"/);
    expect(readFileSync(join(d, 'edgefit.acl'), 'utf8').match(/^user grafana$/gm)).toHaveLength(1);
  });

  it('anonymous clients and wrong passwords are refused', async () => {
    await expect(client(undefined)).rejects.toThrow(/Not authorized|Bad User Name or Password|135|134/i);
    await expect(client('cam-a', { password: 'wrong' })).rejects.toThrow(/Not authorized|Bad User Name or Password|135|134/i);
  });

  it('a device writes its own topics only; commands come from operators only; dashboards read and send only snapshot', async () => {
    const got: { topic: string; payload: string }[] = [];
    const ops = await client('ops');
    ops.on('message', (t, p) => got.push({ topic: t, payload: p.toString() }));
    await ops.subscribeAsync('edgefit/#', { qos: 1 });
    const camA = await client('cam-a');
    const aCmds: string[] = [];
    camA.on('message', (t) => aCmds.push(t));
    // mosquitto 2.0 grants the subscription and enforces `read` at delivery: cam-b's commands never reach cam-a
    await camA.subscribeAsync([`edgefit/cam-a/cmd/+`, 'edgefit/cam-b/cmd/+', 'edgefit/cam-b/#'], { qos: 1 });

    const attempt = async (c: MqttClient, topic: string, payload: string) => {
      try { await c.publishAsync(topic, payload, { qos: 1 }); return 'accepted'; } catch (e) { return `refused: ${(e as Error).message}`; }
    };
    expect(await attempt(camA, 'edgefit/cam-a/result', 'a-own')).toBe('accepted');
    expect(await attempt(camA, 'edgefit/cam-a/reply/pause', 'a-reply')).toBe('accepted');
    expect(await attempt(camA, 'edgefit/cam-b/result', 'a-into-b')).toMatch(/refused/);
    expect(await attempt(camA, 'edgefit/cam-b/status', 'a-into-b-status')).toMatch(/refused/);
    expect(await attempt(camA, 'edgefit/cam-b/cmd/pause', 'a-cmd-b')).toMatch(/refused/);
    expect(await attempt(camA, 'edgefit/cam-a/cmd/pause', 'a-cmd-self')).toMatch(/refused/);
    expect(await attempt(ops, 'edgefit/cam-b/cmd/pause', 'ops-cmd-b')).toBe('accepted');
    expect(await attempt(ops, 'edgefit/cam-a/cmd/pause', 'ops-cmd')).toBe('accepted');
    expect(await attempt(ops, 'edgefit/cam-a/result', 'ops-fake-result')).toMatch(/refused/);
    const dash = await client('dash');
    expect(await attempt(dash, 'edgefit/cam-a/cmd/pause', 'dash-cmd')).toMatch(/refused/);
    expect(await attempt(dash, 'edgefit/cam-a/result', 'dash-fake-result')).toMatch(/refused/);
    // the one command a dashboard sends: its "take snapshot" button
    expect(await attempt(dash, 'edgefit/cam-a/cmd/snapshot', 'dash-snapshot')).toBe('accepted');

    await until(() => aCmds.length > 0, 'the operator command at cam-a');
    const payloads = () => got.map((g) => g.payload);
    await until(() => payloads().includes('ops-cmd') && payloads().includes('ops-cmd-b') && payloads().includes('a-reply'), 'accepted messages');
    expect(payloads()).toContain('a-own');
    await until(() => payloads().includes('dash-snapshot'), 'the dashboard snapshot command');
    for (const p of ['a-into-b', 'a-into-b-status', 'a-cmd-b', 'a-cmd-self', 'ops-fake-result', 'dash-cmd', 'dash-fake-result']) expect(payloads()).not.toContain(p);
    await until(() => aCmds.length >= 2, 'the dashboard snapshot command at cam-a');
    expect(aCmds.sort()).toEqual(['edgefit/cam-a/cmd/pause', 'edgefit/cam-a/cmd/snapshot']);
  });

  it('TLS: connects with the CA, fails without it', async () => {
    const ca = readFileSync(join(dir, 'ca.crt'));
    const ok = await mqtt.connectAsync(`mqtts://127.0.0.1:${tls}`, { protocolVersion: 5, reconnectPeriod: 0, username: 'cam-a', password: pw['cam-a'], ca, rejectUnauthorized: true, connectTimeout: 5000 });
    clients.push(ok);
    await ok.publishAsync('edgefit/cam-a/telemetry', '{}', { qos: 1 });
    await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${tls}`, { protocolVersion: 5, reconnectPeriod: 0, username: 'cam-a', password: pw['cam-a'], rejectUnauthorized: true, connectTimeout: 5000 }))
      .rejects.toThrow(/self[- ]signed|unable to (verify|get)/i);
  });

  it('the daemon works end to end under the ACL over TLS, and with refused credentials says what to fix and retries slowly', async () => {
    const state = await profiledState(['mobilenet_v1-0.25-128-int8']);
    const got: { topic: string; payload: string }[] = [];
    const ops = await client('ops');
    ops.on('message', (t, p) => got.push({ topic: t, payload: p.toString() }));
    await ops.subscribeAsync(['edgefit/#', 'homeassistant/#'], { qos: 1 });
    const common = ['--device-id', 'cam-a', '--camera', 'synthetic', '--set', 'mqtt.results.mode=every', '--set', 'camera.fps=5', ...fastProfile];
    const good = new DaemonProcess([...common, '--state-dir', copyState(state), '--broker', `mqtts://127.0.0.1:${tls}`, '--set', 'mqtt.username=cam-a', '--set', `mqtt.tls.ca=${join(dir, 'ca.crt')}`], { EDGEFIT_MQTT_PASSWORD: pw['cam-a'] });
    try {
      await good.waitFor(() => got.some((g) => g.topic === 'edgefit/cam-a/result'), 'results through the ACL', 120_000);
      expect(got.some((g) => g.topic === 'edgefit/cam-a/status' && g.payload.includes('"online"'))).toBe(true);
      expect(got.some((g) => g.topic === 'edgefit/cam-a/model')).toBe(true);
      expect(got.some((g) => g.topic.startsWith('homeassistant/sensor/edgefit_cam-a/'))).toBe(true);
      // an operator command, answered on the default reply topic (inside the device's own tree)
      await ops.publishAsync('edgefit/cam-a/cmd/pause', '{"id":"acl-1"}', { qos: 1 });
      await until(() => got.find((g) => g.topic === 'edgefit/cam-a/reply/pause' && g.payload.includes('"ok":true')), 'the reply');
      expect(good.stderr).not.toMatch(/refused the credentials/);
    } finally {
      expect(await good.stop()).toBe(0);
    }

    const before = (log.match(/New connection from/g) ?? []).length;
    const bad = new DaemonProcess([...common, '--state-dir', copyState(state), '--broker', `mqtt://127.0.0.1:${plain}`, '--set', 'mqtt.username=cam-a'], { EDGEFIT_MQTT_PASSWORD: 'not-the-password' });
    try {
      await bad.waitFor(() => /refused the credentials/.test(bad.stderr), 'the credentials message', 120_000);
      expect(bad.stderr).toMatch(/refused the credentials.*check mqtt\.username \/ mqtt\.password/);
      expect(bad.stderr).not.toContain('not-the-password');
      const first = (log.match(/New connection from/g) ?? []).length - before;
      // the next attempt waits at least 5 s: watch 3 s of it
      await new Promise((r) => setTimeout(r, 3000));
      const later = (log.match(/New connection from/g) ?? []).length - before;
      expect(first).toBeGreaterThanOrEqual(1);
      expect(later - first).toBe(0);
      expect(bad.proc.exitCode).toBe(null);
    } finally {
      expect(await bad.stop()).toBe(0);
    }
  }, 240_000);

  it('the dashboard, as a --dashboard user, gets a snapshot from a daemon running as a device user', async () => {
    const state = await profiledState(['mobilenet_v1-0.25-128-int8']);
    const daemon = new DaemonProcess(['--device-id', 'cam-b', '--camera', 'synthetic', '--set', 'camera.fps=5', '--set', 'mqtt.results.mode=every', ...fastProfile, '--state-dir', copyState(state),
      '--broker', `mqtt://127.0.0.1:${plain}`, '--set', 'mqtt.username=cam-b'], { EDGEFIT_MQTT_PASSWORD: pw['cam-b'] });
    let dash: Dashboard | undefined;
    try {
      // over TLS with the private CA: the dashboard connects through the daemon's MqttLink
      dash = await startDashboard({ url: `mqtts://127.0.0.1:${tls}`, prefix: 'edgefit', port: 0, username: 'dash', password: pw.dash!, tls: { ca: join(dir, 'ca.crt') } });
      const d = dash;
      // a result means the camera has delivered frames: there is something to take a snapshot of
      await daemon.waitFor(() => d.store.row('cam-b')?.state === 'online' && d.store.row('cam-b')?.result !== undefined, 'the device online, with a result, on the dashboard', 120_000);
      const res = await fetch(`${d.url}/api/device/cam-b/snapshot`, { method: 'POST', headers: { 'x-edgefit': '1' } });
      const body = Buffer.from(await res.arrayBuffer());
      expect(res.status, body.toString('utf8', 0, 300)).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect([body[0], body[1]]).toEqual([0xff, 0xd8]);
    } finally {
      await dash?.stop();
      expect(await daemon.stop()).toBe(0);
    }
  }, 240_000);
});
