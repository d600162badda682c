import type { Engine, FrameStream, RunResult, StreamSink } from '../engine/engine.js';
import type { SharedResult, SharedWorkers } from '../engine/shared-workers.js';
import type { EngineHost } from '../engine/host.js';
import { EdgefitError } from '../util/errors.js';

/**
 * The workers several cameras share (src/engine/shared-workers.ts), seen by one camera's pipeline as its own
 * Engine: its FrameStream offers frames to the fair queue under the camera's id, and the camera's answers come
 * back through it. The pipeline then works as with one camera (latest frame wins, swaps between frames).
 */
export class SharedEngines {
  private readonly sinks = new Map<string, StreamSink>();

  /** The callbacks to give SharedWorkers.start: answers are routed to the camera's stream. */
  readonly callbacks = {
    onResult: (r: SharedResult) => this.sinks.get(r.camera)?.result({ seq: r.seq, ts: r.ts, scores: r.scores, inferMs: r.inferMs, startedAt: r.startedAt }),
    onError: (camera: string, err: Error) => this.sinks.get(camera)?.error(err, 0, Date.now()),
  };

  workers: SharedWorkers | undefined;

  /** The Engine one camera's pipeline runs; `host` is the session's worker (its input and output shapes). */
  engineFor(camera: string, host: EngineHost): Engine {
    return new CameraEngine(this, camera, host);
  }

  attach(camera: string, sink: StreamSink): void { this.sinks.set(camera, sink); }
  detach(camera: string, sink: StreamSink): void { if (this.sinks.get(camera) === sink) this.sinks.delete(camera); }
}

class CameraEngine implements Engine {
  readonly name = 'shared';
  readonly refused = [];
  // one buffer per camera: the queue keeps a reference until dispatch, and the next offer replaces that frame anyway
  private buf = new Uint8Array(0);

  constructor(private readonly owner: SharedEngines, private readonly camera: string, private readonly host: EngineHost) {}

  get provider() { return this.host.provider; }
  get io() { return this.host.io; }

  run(): Promise<RunResult> {
    return Promise.reject(new EdgefitError('E_SHARED_WORKERS', `camera ${this.camera} runs through the shared workers' stream, not run()`));
  }

  stream(sink: StreamSink): FrameStream {
    const owner = this.owner, camera = this.camera;
    const workers = owner.workers!;
    owner.attach(camera, sink);
    let closed = false;
    return {
      offer: (frame, seq, ts) => {
        if (closed) return true;
        // the camera's ring slot is released right after the offer: the queue must hold a copy
        if (this.buf.length !== frame.length) this.buf = new Uint8Array(frame.length);
        this.buf.set(frame);
        return workers.offer(camera, this.buf, seq, ts);
      },
      cancel: () => workers.cancel(camera),
      idle: () => workers.cameraIdle(camera),
      close: () => { closed = true; workers.cancel(camera); owner.detach(camera, sink); },
    };
  }

  /** the workers are closed by their owner, once no camera runs on them */
  async close(): Promise<void> {}
}
