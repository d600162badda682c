import type { Logger } from '../util/log.js';
import type { FrameSource } from '../camera/source.js';
import { Pipeline, type ActiveModel, type InferenceResult } from '../pipeline/pipeline.js';
import type { Service } from './service.js';

export interface PipelineInputs {
  log: Logger;
  source(): FrameSource;
  model(): ActiveModel;
  windowSeconds: number;
  /** mqtt.results.minScore and mqtt.results.labels: what the task keeps of a detector's output */
  minScore: number;
  labels: string[];
  /** each result, in order */
  result(r: InferenceResult): void;
  stopped(): boolean;
}

/** The latest-frame loop from the camera to the engine. */
export class PipelineService implements Service {
  readonly name = 'pipeline';
  private p: Pipeline | undefined;

  constructor(private readonly i: PipelineInputs) {}

  get pipeline(): Pipeline {
    if (!this.p) throw new Error('the pipeline is not started yet');
    return this.p;
  }

  async start(): Promise<void> {
    const { log } = this.i;
    const source = this.i.source();
    const p = new Pipeline({ source, model: this.i.model(), topK: 5, scoreThreshold: 0, minScore: this.i.minScore, labels: this.i.labels, windowSeconds: this.i.windowSeconds });
    this.p = p;
    p.on('result', (r: InferenceResult) => this.i.result(r));
    p.on('error', (err: Error) => log.warn('inference failed for a frame', { error: err.message }));
    p.on('stopped', () => { if (!this.i.stopped() && source.stats().ended) log.info('the camera input ended (camera.loop is off)'); });
    p.start();
  }

  async stop(): Promise<void> {
    await this.p?.stop();
  }
}
