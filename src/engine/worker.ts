import { parentPort, workerData } from 'node:worker_threads';
import { engineFactory } from './registry.js';
import type { Engine } from './engine.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

// Inference runs here so that session.run (which blocks its thread) never delays MQTT keepalives,
// watchdogs or telemetry on the main thread.
const port = parentPort!;
const init = workerData as WorkerInit;
let engine: Engine | undefined;

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function main(): Promise<void> {
  try {
    const factory = await engineFactory(init.kind);
    engine = await factory.load(init.modelPath, init.options);
    send({ type: 'ready', provider: engine.provider, refused: engine.refused, io: engine.io });
  } catch (err) {
    const e = err as Error & { code?: string };
    send({ type: 'load-error', message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) });
    return;
  }
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      void engine!.close().finally(() => send({ type: 'closed' }));
      return;
    }
    const { id, input, length, scores } = msg;
    engine!.run(new Uint8Array(input, 0, length)).then(
      (r) => {
        const out = new Float32Array(scores);
        const n = Math.min(out.length, r.scores.length);
        out.set(n === r.scores.length ? r.scores : r.scores.subarray(0, n));
        send({ type: 'result', id, input, scores, count: r.scores.length, inferMs: r.inferMs }, [input, scores]);
      },
      (err: unknown) => {
        send({ type: 'run-error', id, input, scores, message: err instanceof Error ? err.message : String(err) }, [input, scores]);
      },
    );
  });
}

void main();
