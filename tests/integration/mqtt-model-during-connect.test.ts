import { describe, it, expect, afterAll } from 'vitest';
import mqtt from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttService } from '../../src/mqtt/service.js';
import { loadConfig } from '../../src/config/index.js';
import type { CommandHandlers } from '../../src/mqtt/commands.js';
import type { ModelPayload } from '../../src/mqtt/payloads.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The daemon sets its model once the camera and pipeline run, which may be while MqttService is still setting up
 * the connection (subscribing, publishing the retained topics): that model must reach the broker all the same.
 * The hook below sets it exactly inside that window, as a daemon whose camera opens while MQTT connects does.
 */
const none = async () => ({});
const handlers: CommandHandlers = { reselect: none, 'set-budget': none, pause: none, resume: none, 'pull-model': none, snapshot: none };
const model: Omit<ModelPayload, 'session'> = { deviceId: 'cam-r', ts: new Date().toISOString(), variant: { id: 'm', family: 'mobilenet_v1', alpha: 0.5, resolution: 160, precision: 'int8', macs: 1, params: 1, pretrained: true, source: 'test' }, provider: 'cpu', threads: 1, reason: 'test', budget: {}, measurement: null, candidates: [], measured: 0, ladder: 0, labelsMeaningful: true, board: 'test' };

describe('MqttService: state set while the connection is set up', () => {
  let broker: Mosquitto | undefined;
  let svc: MqttService | undefined;
  afterAll(async () => { await svc?.stop().catch(() => undefined); await broker?.stop(); });

  it('a model and status set between CONNACK and ready are published (retained)', async () => {
    broker = await Mosquitto.start();
    const { config } = loadConfig({ env: {}, host: { hostname: 'test', isRoot: false, home: tmpdir() } });
    svc = new MqttService({ config: config.mqtt, url: broker.url, deviceId: 'cam-r', stateDir: mkdtempSync(join(tmpdir(), 'edgefit-mqtt-race-')), version: '0.1.0', board: 'test', handlers });
    const proto = svc as unknown as { publishRetained(): Promise<void> };
    const original = proto.publishRetained.bind(svc);
    let hooked = false;
    proto.publishRetained = async () => {
      const published = original();
      if (!hooked) {
        hooked = true;
        await svc!.setModel(model);
        await svc!.setStatus('online', '');
      }
      return published;
    };
    await svc.start();
    await waitFor(() => svc!.stats().connected, 'connected', 15_000);
    // retained: a subscriber arriving afterwards gets what the broker holds
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const got = new Map<string, Record<string, unknown>>();
    sub.on('message', (t, p) => { if (p.length > 0) got.set(t.split('/').at(-1)!, JSON.parse(p.toString()) as Record<string, unknown>); });
    await sub.subscribeAsync('edgefit/cam-r/#', { qos: 1 });
    try {
      await waitFor(() => got.get('status')?.state === 'online' && got.has('model'), 'retained status online and model', 5_000);
      expect(got.get('model')?.variant).toMatchObject({ id: 'm' });
    } finally {
      await sub.endAsync();
    }
  });
});
