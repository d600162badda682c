import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import type { ModelPayload, ResultPayload, StatusPayload, TelemetryPayload } from '../../src/mqtt/payloads.js';

interface Recording {
  note: string;
  status: StatusPayload;
  model: ModelPayload;
  telemetry: { atMs: number; payload: TelemetryPayload }[];
  results: { atMs: number; payload: ResultPayload }[];
  stopped: StatusPayload;
}

/** What a real daemon published (recorded-device.json; see its `note`), for replay as a second device. */
export function loadRecording(): Recording {
  return JSON.parse(readFileSync(join(projectRoot, 'tests/helpers/recorded-device.json'), 'utf8')) as Recording;
}

/**
 * Replays the recording under the topics of one device: retained status and model first, then the recorded
 * telemetry (cycled, one message per period, ts rewritten to now) and results. Publishes exactly what the
 * daemon published, except for ids/timestamps/board, so the dashboard sees the daemon's real payload shapes.
 */
export class RecordedDevice {
  readonly rec = loadRecording();
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private i = 0;
  /** false stops the replayed results (a test that publishes its own result keeps it on screen) */
  replayResults = true;
  private seq = 1000;
  readonly model: ModelPayload;

  constructor(readonly deviceId: string, private readonly prefix = 'edgefit', board?: string) {
    this.model = { ...this.rec.model, deviceId, ...(board ? { board } : {}) };
  }

  topic(kind: string): string { return `${this.prefix}/${this.deviceId}/${kind}`; }

  async start(url: string, periodMs = 1000): Promise<void> {
    const c = mqtt.connect(url, { protocolVersion: 5, clientId: `replay-${this.deviceId}`, reconnectPeriod: 0 });
    this.client = c;
    await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject); });
    await this.publish('status', { ...this.rec.status, deviceId: this.deviceId, ts: new Date().toISOString() }, true);
    await this.publish('model', { ...this.model, ts: new Date().toISOString() }, true);
    this.tick();
    this.timer = setInterval(() => this.tick(), periodMs);
  }

  private tick(): void {
    const t = this.rec.telemetry[this.i % this.rec.telemetry.length]!.payload;
    const r = this.rec.results[this.i % this.rec.results.length]!.payload;
    this.i++;
    void this.publish('telemetry', { ...t, deviceId: this.deviceId, ts: new Date().toISOString() }, false).catch(() => undefined);
    if (this.replayResults) void this.result({ ...r, deviceId: this.deviceId, seq: this.seq++, frameTs: Date.now(), ts: new Date().toISOString() }).catch(() => undefined);
  }

  result(r: ResultPayload): Promise<void> { return this.publish('result', r, false); }

  publish(kind: string, payload: unknown, retain: boolean): Promise<void> {
    const c = this.client!;
    return new Promise((resolve, reject) => c.publish(this.topic(kind), typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain }, (err) => (err ? reject(err) : resolve())));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const c = this.client;
    this.client = undefined;
    if (c) await new Promise<void>((resolve) => c.end(false, () => resolve()));
  }
}
