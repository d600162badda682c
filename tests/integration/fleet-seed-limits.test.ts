import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mqtt from 'mqtt';
import { Mosquitto } from '../helpers/mosquitto.js';
import { fetchFleetSeed, measurementPayload } from '../../src/mqtt/fleet-measurements.js';
import { fingerprintLevel, fleetTopics } from '../../src/mqtt/topics.js';
import { loadConfig } from '../../src/config/index.js';
import { meas } from '../unit/select-fixtures.js';

const board = 'x64_intel-xeon-x2_avx2.avx512_ort-1.22.0';
const ort = '1.22.0';
const host = { hostname: 'h', isRoot: false, home: '/home/u' };

describe('the fleet seed reads only what can be a measurement (real mosquitto, MQTT 5)', () => {
  let broker: Mosquitto;
  beforeAll(async () => { broker = await Mosquitto.start(); });
  afterAll(async () => { await broker?.stop(); });

  it('a huge retained entry under the measurement topics is withheld by the broker, the valid one arrives', async () => {
    const topics = fleetTopics('edgefit');
    const key = { board, sha256: 'a'.repeat(64), resolution: 128, ortVersion: ort, provider: 'cpu' as const, threads: 1 };
    const good = measurementPayload('dev-a', { key, measurement: meas('v', 20, { threads: 1 }) })!;
    const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topics.measurement(fingerprintLevel(board), ort, key.sha256, 128, 'cpu', 1), JSON.stringify(good), { retain: true, qos: 1 });
    // 8 MB under a measurement topic: without a packet limit the device reads it whole, then refuses it
    await pub.publishAsync(topics.measurement(fingerprintLevel(board), ort, 'b'.repeat(64), 128, 'cpu', 1), Buffer.alloc(8 << 20, 0x20), { retain: true, qos: 1 });
    await pub.endAsync();
    const { config } = loadConfig({ env: {}, host, overrides: { 'mqtt.url': broker.url, 'mqtt.protocolVersion': '5' } });
    const seed = await fetchFleetSeed({ url: broker.url, mqtt: config.mqtt, deviceId: 'dev-b', board, ortVersion: ort, waitMs: 10_000 });
    expect(seed.complete).toBe(true);
    expect(seed.figures.map((f) => f.key.sha256)).toEqual(['a'.repeat(64)]);
    expect(seed.refused).toBe(0);
  });
});
