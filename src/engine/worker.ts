import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { loadEngine } from './registry.js';
import { MailboxReader } from './mailbox.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import type { Engine } from './engine.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

// Inference runs here so that session.run (which blocks its thread) never delays MQTT keepalives,
// watchdogs or telemetry on the main thread. The worker takes its next frame from the mailbox itself the
// moment a run ends, so the main thread's wake-up is never on the path from one inference to the next.
const port = parentPort!;
const init = workerData as WorkerInit;

function send(msg: FromWorker): void {
  port.postMessage(msg);
}

async function serve(engine: Engine, box: MailboxReader): Promise<void> {
  while (box.take()) {
    const startedAt = performance.timeOrigin + performance.now();
    const { seq, ts } = box;
    try {
      const r = await engine.run(box.frame);
      const slot = box.putResult(r.scores);
      box.done();
      if (slot < 0) break;
      send({ type: 'result', seq, ts, slot, count: r.scores.length, inferMs: r.inferMs, startedAt });
    } catch (err) {
      box.done();
      send({ type: 'run-error', seq, ts, message: err instanceof Error ? err.message : String(err) });
    }
  }
  await engine.close().catch(() => undefined);
  send({ type: 'closed' });
}

async function main(): Promise<void> {
  let engine: Engine;
  try {
    await importEngineModules(init.modules);
    engine = await loadEngine(init.modelPath, init.options, init.kind ? [init.kind] : []);
  } catch (err) {
    const e = err as Error & { code?: string };
    send({ type: 'load-error', message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) });
    return;
  }
  // the host sizes the mailbox from what the model says it needs
  port.once('message', (msg: ToWorker) => { void serve(engine, new MailboxReader(msg.buffers)); });
  send({ type: 'ready', engine: engine.name, provider: engine.provider, refused: engine.refused, io: engine.io });
}

/**
 * A worker does not run the process's `--import` preloads (Node 20), so the modules that register engines of
 * their own (engine.modules) are imported here, in the worker's own registry, before the engine is chosen.
 */
async function importEngineModules(modules: readonly string[]): Promise<void> {
  for (const m of modules) {
    const url = m.startsWith('file:') ? m : isAbsolute(m) ? pathToFileURL(m).href : undefined;
    if (!url) throw new EdgefitError('E_ENGINE_MODULE', `engine module ${JSON.stringify(m)} is not an absolute path; give engine.modules as absolute paths`);
    try {
      await import(url);
    } catch (err) {
      throw new EdgefitError('E_ENGINE_MODULE', `engine module ${m} could not be imported (${errorMessage(err)}); check the path in engine.modules`, { cause: err });
    }
  }
}

void main();
