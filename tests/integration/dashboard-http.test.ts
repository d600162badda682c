import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { startEmbeddedBroker } from '../../src/mqtt/broker.js';
import { loadConfig } from '../../src/config/index.js';
import { projectRoot } from '../../src/util/paths.js';

/**
 * The dashboard's HTTP boundary, with raw requests (a browser cannot forge Host, a test can): DNS rebinding
 * (Host, Origin), credentials, and the refusal to listen beyond loopback without them.
 */
interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function raw(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, setHost: !('host' in headers) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        // an event stream never ends: what it sent first is enough
        if (res.headers['content-type']?.startsWith('text/event-stream')) { req.destroy(); resolve({ status: res.statusCode!, headers: res.headers, body }); }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GETS = ['/', '/index.html', '/app.js', '/events', '/api/devices', '/api/device/cam-7', '/api/device/cam-7/selection.svg', '/api/boards', '/api/stats', '/metrics'];

describe('dashboard HTTP boundary', () => {
  let broker: Mosquitto;
  let pub: MqttClient;
  const dashboards: Dashboard[] = [];
  const start = async (o: Partial<Parameters<typeof startDashboard>[0]> = {}) => {
    const d = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, ...o });
    dashboards.push(d);
    return d;
  };

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    // a device the dashboards know about: what a rebinding page must not read
    await pub.publishAsync('edgefit/cam-7/status', JSON.stringify({ state: 'online', session: 1, deviceId: 'cam-7', ts: new Date().toISOString(), version: '0.1.0' }), { qos: 1, retain: true });
  });

  afterAll(async () => {
    await Promise.all(dashboards.map((d) => d.stop()));
    await pub?.endAsync();
    await broker?.stop();
  });

  it('answers a foreign Host with 421 and no device data, on every GET route and the event stream', async () => {
    const d = await start();
    await waitFor(() => d.store.row('cam-7'), 'cam-7 in the store');
    for (const host of [`rebind.attacker.example:${d.port}`, 'rebind.attacker.example', `localhost.attacker.example:${d.port}`, `10.1.2.3:${d.port}`]) {
      for (const path of GETS) {
        const r = await raw(d.port, path, { host });
        expect(r.status, `${host} ${path}`).toBe(421);
        expect(r.body, `${host} ${path}`).not.toContain('cam-7');
        expect(r.headers['content-type']).not.toMatch(/event-stream/);
      }
      const post = await raw(d.port, '/api/device/cam-7/snapshot', { host, 'x-edgefit': '1' }, 'POST');
      expect(post.status).toBe(421);
    }
    expect((await raw(d.port, '/api/devices', { host: `rebind.attacker.example:${d.port}` })).body).toMatch(/--allowed-host/);
    // the names it serves by default
    for (const host of [`127.0.0.1:${d.port}`, `localhost:${d.port}`, `LOCALHOST:${d.port}`, `[::1]:${d.port}`, '127.0.0.1']) {
      const r = await raw(d.port, '/api/devices', { host });
      expect(r.status, host).toBe(200);
      expect(r.body).toContain('cam-7');
    }
    const sse = await raw(d.port, '/events', { host: `127.0.0.1:${d.port}` });
    expect(sse.status).toBe(200);
  });

  it('a device path that is not a device id, malformed percent-escapes included, is the client\'s error (400)', async () => {
    const d = await start();
    const host = `127.0.0.1:${d.port}`;
    for (const path of ['/api/device/%E0%A4%A', '/api/device/%', '/api/device/a%2Fb', '/api/device/%E0%A4%A/selection.svg']) {
      const r = await raw(d.port, path, { host });
      expect(r.status, path).toBe(400);
      expect(r.body, path).toContain('a device id is');
    }
  });

  it('serves the names given with allowedHosts (--allowed-host), and only those', async () => {
    const d = await start({ allowedHosts: ['dash.lan', 'Fleet.Example.com'] });
    expect((await raw(d.port, '/api/devices', { host: `dash.lan:${d.port}` })).status).toBe(200);
    expect((await raw(d.port, '/api/devices', { host: 'fleet.example.com' })).status).toBe(200);
    expect((await raw(d.port, '/api/devices', { host: `dash.lan.attacker.example:${d.port}` })).status).toBe(421);
    expect((await raw(d.port, '/api/devices', { host: `x.dash.lan:${d.port}` })).status).toBe(421);
    await expect(startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, allowedHosts: ['dash.lan:8080'] })).rejects.toThrow(/allowed host "dash\.lan:8080".*without a port/);
    await expect(startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, allowedHosts: ['*.lan'] })).rejects.toThrow(/allowed host/);
  });

  it('refuses a POST from a foreign Origin with 403, and lets its own page through', async () => {
    const d = await start();
    const host = `127.0.0.1:${d.port}`;
    for (const origin of ['http://rebind.attacker.example', `http://rebind.attacker.example:${d.port}`, 'null', `http://localhost:${d.port + 1}`, 'not a url']) {
      const r = await raw(d.port, '/api/device/cam-7/snapshot', { host, origin, 'x-edgefit': '1' }, 'POST');
      expect(r.status, origin).toBe(403);
      expect(r.body).toMatch(/origin/i);
    }
    // same origin: past the guard (the device is not really there: the snapshot fails later, not with 403)
    const own = await raw(d.port, '/api/device/nobody/snapshot', { host, origin: `http://${host}`, 'x-edgefit': '1' }, 'POST');
    expect(own.status).toBe(404);
    // no Origin (curl): the X-Edgefit header still applies
    expect((await raw(d.port, '/api/device/nobody/snapshot', { host }, 'POST')).status).toBe(403);
    expect((await raw(d.port, '/api/device/nobody/snapshot', { host, 'x-edgefit': '1' }, 'POST')).status).toBe(404);
  });

  it('with a token, every route (the event stream too) needs it: Bearer, or as the Basic password', async () => {
    const token = 'a-token-of-some-length-0123456789';
    const d = await start({ auth: { token } });
    const host = `127.0.0.1:${d.port}`;
    await waitFor(() => d.store.row('cam-7'), 'cam-7 in the store');
    for (const path of GETS) {
      const r = await raw(d.port, path, { host });
      expect(r.status, path).toBe(401);
      expect(r.body).not.toContain('cam-7');
      expect(String(r.headers['www-authenticate'])).toMatch(/^Basic realm="edgefit dashboard"/);
    }
    for (const authorization of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, basic('anyone', 'wrong'), 'Bearer', 'Basic !!!', `Digest ${token}`]) {
      expect((await raw(d.port, '/api/devices', { host, authorization })).status, authorization).toBe(401);
    }
    const ok = await raw(d.port, '/api/devices', { host, authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('cam-7');
    expect((await raw(d.port, '/api/devices', { host, authorization: basic('anyone', token) })).status).toBe(200);
    expect((await raw(d.port, '/events', { host, authorization: basic('', token) })).status).toBe(200);
    // the Host check comes first: a rebinding page gets no credentials prompt
    expect((await raw(d.port, '/api/devices', { host: 'rebind.attacker.example', authorization: `Bearer ${token}` })).status).toBe(421);
  });

  it('with a user and password, Basic auth needs both', async () => {
    const d = await start({ auth: { user: 'alice', password: 'correct horse battery' } });
    const host = `127.0.0.1:${d.port}`;
    expect((await raw(d.port, '/api/devices', { host })).status).toBe(401);
    expect((await raw(d.port, '/api/devices', { host, authorization: basic('alice', 'correct horse battery') })).status).toBe(200);
    expect((await raw(d.port, '/api/devices', { host, authorization: basic('alice', 'correct horse') })).status).toBe(401);
    expect((await raw(d.port, '/api/devices', { host, authorization: basic('bob', 'correct horse battery') })).status).toBe(401);
    expect((await raw(d.port, '/api/devices', { host, authorization: 'Bearer correct horse battery' })).status).toBe(401);
  });

  it('refuses to listen beyond loopback without credentials, and says which variable to set', async () => {
    const port = await freePort();
    for (const host of ['0.0.0.0', '::', '192.0.2.1', 'dash.lan']) {
      await expect(startDashboard({ url: broker.url, prefix: 'edgefit', port, host }), host).rejects.toThrow(/EDGEFIT_DASHBOARD_TOKEN.*EDGEFIT_DASHBOARD_USER.*EDGEFIT_DASHBOARD_PASSWORD/s);
    }
    // nothing was left listening
    const free = await new Promise<boolean>((resolve) => {
      const r = request({ host: '127.0.0.1', port, path: '/' }, () => resolve(false));
      r.on('error', () => resolve(true));
      r.end();
    });
    expect(free).toBe(true);
    // with credentials it listens on every address; its own addresses are served, a foreign name is not
    const d = await start({ host: '0.0.0.0', auth: { token: 'a-token-of-some-length-0123456789' } });
    const authorization = 'Bearer a-token-of-some-length-0123456789';
    expect((await raw(d.port, '/api/devices', { host: `127.0.0.1:${d.port}`, authorization })).status).toBe(200);
    expect((await raw(d.port, '/api/devices', { host: `rebind.attacker.example:${d.port}`, authorization })).status).toBe(421);
    const lan = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (lan) expect((await raw(d.port, '/api/devices', { host: `${lan.address}:${d.port}`, authorization })).status, lan.address).toBe(200);
  });

  it('the CLI takes credentials from the environment only; the daemon does not refuse those variables', async () => {
    const cli = (args: string[], env: Record<string, string>) => new Promise<{ code: number | null; out: string; err: string; kill: () => void }>((resolve) => {
      const p = spawn(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'dashboard', '--broker', broker.url, '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = ''; let err = '';
      p.stdout.on('data', (b: Buffer) => { out += b.toString(); if (/edgefit dashboard: http/.test(out)) resolve({ code: null, out, err, kill: () => p.kill('SIGTERM') }); });
      p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
      p.on('exit', (code) => resolve({ code, out, err, kill: () => undefined }));
    });
    const refused = await cli(['--host', '0.0.0.0'], {});
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/EDGEFIT_DASHBOARD_TOKEN/);
    const weak = await cli(['--host', '0.0.0.0'], { EDGEFIT_DASHBOARD_TOKEN: 'short' });
    expect(weak.code).toBe(1);
    expect(weak.err).toMatch(/EDGEFIT_DASHBOARD_TOKEN.*at least 16/);
    const half = await cli([], { EDGEFIT_DASHBOARD_USER: 'alice' });
    expect(half.code).toBe(1);
    expect(half.err).toMatch(/EDGEFIT_DASHBOARD_PASSWORD/);
    const token = 'cli-token-0123456789abcdef';
    const up = await cli(['--host', '0.0.0.0', '--allowed-host', 'dash.lan'], { EDGEFIT_DASHBOARD_TOKEN: token });
    try {
      expect(up.code, up.err).toBe(null);
      expect(up.out).not.toContain(token);
      const port = Number(/:(\d+)\//.exec(up.out)![1]);
      expect((await raw(port, '/api/stats', { host: `dash.lan:${port}` })).status).toBe(401);
      expect((await raw(port, '/api/stats', { host: `dash.lan:${port}`, authorization: `Bearer ${token}` })).status).toBe(200);
    } finally {
      up.kill();
    }
    // one environment file serves the daemon and the dashboard: the daemon must not call these typos
    const env = { EDGEFIT_DASHBOARD_TOKEN: token, EDGEFIT_DASHBOARD_USER: 'alice', EDGEFIT_DASHBOARD_PASSWORD: 'correct horse battery' };
    expect(() => loadConfig({ env, host: { hostname: 't', isRoot: false, home: '/tmp' } })).not.toThrow();
  });
});

describe('dashboard commands over the MqttLink', () => {
  it('on MQTT 5 asks for the reply on the device\'s own reply topic, with the request id as correlation data', async () => {
    const broker = await Mosquitto.start();
    const dev = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const seen: IPublishPacket[] = [];
    dev.on('message', (_t, p, packet) => {
      seen.push(packet);
      const id = (JSON.parse(p.toString()) as { id: string }).id;
      // a stranger's reply on the same topic first (another dashboard's request): ignored
      void dev.publishAsync(packet.properties!.responseTopic!, JSON.stringify({ id: 'dash-other', verb: 'pause', ok: false }), { qos: 1, properties: { correlationData: Buffer.from('dash-other') } })
        .then(() => dev.publishAsync(packet.properties!.responseTopic!, JSON.stringify({ id, verb: 'pause', ok: true }), { qos: 1, properties: { correlationData: packet.properties!.correlationData! } }));
    });
    await dev.subscribeAsync('edgefit/cam-9/cmd/+', { qos: 1 });
    const d = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0 });
    try {
      expect(d.ingest.stats.protocolVersion).toBe(5);
      const reply = await d.ingest.command('cam-9', 'pause', {}, 5000);
      expect(reply.ok).toBe(true);
      expect(seen[0]!.properties?.responseTopic).toBe('edgefit/cam-9/reply/pause');
      expect(Buffer.from(seen[0]!.properties!.correlationData!).toString()).toBe(reply.id);
    } finally {
      await d.stop();
      await dev.endAsync();
      await broker.stop();
    }
  });

  it('falls back to MQTT 3.1.1 (aedes) and matches the reply by its id', async () => {
    const broker = await startEmbeddedBroker(0);
    const dev = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    dev.on('message', (t, p) => {
      const id = (JSON.parse(p.toString()) as { id: string }).id;
      void dev.publishAsync(t.replace('/cmd/', '/reply/'), JSON.stringify({ id, verb: 'resume', ok: true }), { qos: 1 });
    });
    await dev.subscribeAsync('edgefit/cam-9/cmd/+', { qos: 1 });
    await dev.publishAsync('edgefit/cam-9/status', JSON.stringify({ state: 'online', session: 1, deviceId: 'cam-9', ts: new Date().toISOString(), version: '0.1.0' }), { qos: 1, retain: true });
    const d = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0 });
    try {
      expect(d.ingest.stats.protocolVersion).toBe(4);
      await waitFor(() => d.store.row('cam-9'), 'cam-9 ingested over 3.1.1');
      const reply = await d.ingest.command('cam-9', 'resume', {}, 5000);
      expect(reply).toMatchObject({ ok: true, verb: 'resume' });
    } finally {
      await d.stop();
      await dev.endAsync();
      await broker.close();
    }
  });

  it('a broker it cannot reach fails start with the URL redacted and what to check', async () => {
    const port = await freePort();
    await expect(startDashboard({ url: `mqtt://user:hunter2@127.0.0.1:${port}`, prefix: 'edgefit', port: 0 })).rejects.toThrow(/cannot connect to the broker mqtt:\/\/user:\*\*\*@127\.0\.0\.1:\d+.*check --broker/);
    await expect(startDashboard({ url: `mqtts://127.0.0.1:${port}`, prefix: 'edgefit', port: 0, tls: { ca: '/nonexistent/ca.crt' } })).rejects.toThrow(/cannot read --tls-ca \/nonexistent\/ca\.crt/);
  });
});
