import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { MqttService } from '../mqtt/service.js';
import type { ResultPayload } from '../mqtt/payloads.js';
import type { InferenceResult } from '../pipeline/pipeline.js';
import type { Service } from './service.js';

const round4 = (x: number) => Math.round(x * 10000) / 10000;

/**
 * Where accepted results go: MQTT (through the durable outbox; also printed with --json once accepted) or,
 * without a broker, stdout with --json. Its stop waits for the results handed to MQTT to reach the outbox.
 */
export class ResultSink implements Service {
  readonly name = 'results';
  private localSeq = 0;
  private refused = 0;
  private readonly inflight = new Set<Promise<unknown>>();

  /** `camera`: several cameras, the result names its camera and goes to <base>/<camera>/result */
  constructor(private readonly o: { deviceId: string; json: boolean; log: Logger; mqtt(): MqttService | undefined; camera?: string }) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  write(r: InferenceResult): void {
    const build = (seq: number, session: number): ResultPayload => ({
      deviceId: this.o.deviceId, ...(this.o.camera ? { camera: this.o.camera } : {}), session, seq, frameTs: r.frameTs, ts: new Date().toISOString(), variant: r.variantId,
      top: r.top.map((t) => ({ index: t.index, label: t.label, score: round4(t.score) })),
      ...(r.detections ? {
        detections: r.detections.map((d) => ({ label: d.label, index: d.index, score: round4(d.score), box: [round4(d.box[0]), round4(d.box[1]), round4(d.box[2]), round4(d.box[3])] as [number, number, number, number] })),
        counts: r.counts ?? {},
      } : {}),
      latencyMs: Math.round(r.latencyMs * 100) / 100, inferMs: Math.round(r.inferMs * 100) / 100,
    });
    const mqtt = this.o.mqtt();
    if (!mqtt) {
      if (this.o.json) process.stdout.write(JSON.stringify(build(++this.localSeq, 0)) + '\n');
      return;
    }
    let payload: ResultPayload | undefined;
    const topic = this.o.camera ? mqtt.topics.cameraResult(this.o.camera) : mqtt.topics.result;
    const p = mqtt.publishResult((seq, session) => (payload = build(seq, session)), topic).then(
      () => { if (this.o.json && payload) process.stdout.write(JSON.stringify(payload) + '\n'); },
      (err: unknown) => { this.refused++; this.o.log.error('result not accepted', { error: errorMessage(err) }); },
    ).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }
}
