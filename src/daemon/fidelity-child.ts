import { EngineHost } from '../engine/host.js';
import { frameFit } from '../camera/fit.js';
import { loadImageRgb } from '../image/load.js';
import { bindTask } from '../pipeline/tasks.js';
import { serveIsolated } from '../util/isolated-main.js';
import { modelOf } from './engine-service.js';
import { readLabels } from './labels.js';
import type { Answers, AnswersJob } from './rollout-fidelity.js';

/**
 * Child process of a rollout's fidelity measurement (runIsolated, src/daemon/rollout-fidelity.ts): loads one
 * variant as the daemon's engine does and answers each probe frame as the pipeline would read it.
 */
async function answers(job: AnswersJob): Promise<Answers> {
  const v = job.variant;
  const engine = await EngineHost.start(v.modelPath, job.host);
  try {
    const m = modelOf(v, await readLabels(v.labelsPath));
    // the pipeline's reading of the output; a classifier's top-1 whatever its score
    const interpret = bindTask(m.task ?? 'classification', m, { topK: 1, scoreThreshold: -Infinity, minScore: job.minScore, labels: job.labels });
    const fit = frameFit(v);
    const out: Answers = [];
    for (const path of job.frames) {
      let pixels: Uint8Array;
      try {
        pixels = await loadImageRgb(path, v.resolution, fit);
      } catch (err) {
        process.stderr.write(`fidelity: ${(err as Error).message}; frame left out\n`);
        out.push(null);
        continue;
      }
      const r = interpret((await engine.run(pixels)).scores);
      out.push(m.task === 'detection' ? JSON.stringify([...new Set((r.detections ?? []).map((d) => d.label))].sort()) : (r.top[0]?.label ?? ''));
    }
    return out;
  } finally {
    await engine.close();
  }
}

serveIsolated(answers);
