import { Worker } from 'node:worker_threads';
import { distModule } from '../../src/util/paths.js';

/**
 * Feeds payloads to the dashboard's ingest and chart code (the compiled modules) in a worker thread, one job at
 * a time, each with a time bound: a job that never ends (a tick loop with a step of 0 or Infinity) or allocates
 * without end fails the test with the job's name instead of hanging the test run or eating the machine's memory.
 * The worker's heap is capped, so an unbounded loop that allocates dies of ERR_WORKER_OUT_OF_MEMORY quickly.
 */
export type Job =
  /** a raw MQTT message through validateMessage; an accepted model is then drawn (selectionSvg) */
  | { kind: 'message'; prefix: string; topic: string; payload: Uint8Array }
  /** a model payload drawn as it is, without ingest (the chart must guard itself) */
  | { kind: 'model'; model: unknown }
  /** PlotData drawn as it is */
  | { kind: 'plot'; data: unknown };

export type Outcome =
  | { refused: string; detail: string }
  | { accepted: string; payload: unknown; svg?: string }
  | { svg: string }
  | { error: string };

const SCRIPT = `
const { workerData, parentPort } = require('node:worker_threads');
Promise.all([import(workerData.validate), import(workerData.selection), import(workerData.plot)]).then(([v, s, p]) => {
  parentPort.on('message', ({ i, job }) => {
    let out;
    try {
      if (job.kind === 'message') {
        const m = v.validateMessage(job.prefix, job.topic, Buffer.from(job.payload));
        if ('reason' in m) out = { refused: m.reason, detail: m.detail };
        else out = { accepted: m.kind, payload: m.payload, ...(m.kind === 'model' ? { svg: s.selectionSvg(m.payload) } : {}) };
      } else if (job.kind === 'model') out = { svg: s.selectionSvg(job.model) };
      else out = { svg: p.plotSvg(job.data) };
    } catch (err) {
      out = { error: String((err && err.stack) || err) };
    }
    parentPort.postMessage({ i, out });
  });
  parentPort.postMessage({ ready: true });
}, (err) => parentPort.postMessage({ loadError: String(err) }));
`;

export class BoundedWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private next = 0;

  constructor(private readonly timeoutMs = 10_000, private readonly heapMb = 256) {}

  private start(): Promise<void> {
    const w = new Worker(SCRIPT, {
      eval: true,
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
      workerData: { validate: distModule('dashboard/validate.js'), selection: distModule('dashboard/selection.js'), plot: distModule('select/plot.js') },
    });
    this.worker = w;
    return new Promise((resolve, reject) => {
      w.once('message', (m: { ready?: true; loadError?: string }) => (m.ready ? resolve() : reject(new Error(`the worker could not load the modules: ${m.loadError}`))));
      w.once('error', reject);
    });
  }

  /** Runs one job; rejects when it does not answer within the bound or kills the worker (a new one serves the next job). */
  async run(job: Job, name: string): Promise<Outcome> {
    this.ready ??= this.start();
    await this.ready;
    const w = this.worker!;
    const i = this.next++;
    const transfer = job.kind === 'message' ? { ...job, payload: new Uint8Array(job.payload) } : job;
    try {
      return await new Promise<Outcome>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no answer within ${this.timeoutMs} ms (the worker was stopped)`)), this.timeoutMs);
        const onMessage = (m: { i: number; out: Outcome }) => {
          if (m.i !== i) return;
          clearTimeout(timer);
          w.off('message', onMessage);
          w.off('error', onError);
          resolve(m.out);
        };
        const onError = (err: Error & { code?: string }) => {
          clearTimeout(timer);
          reject(new Error(`${name}: the worker died (${err.code ?? ''} ${err.message})`));
        };
        w.on('message', onMessage);
        w.once('error', onError);
        w.postMessage({ i, job: transfer });
      });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    if (w) await w.terminate();
  }
}
