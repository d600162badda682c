import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BenchContext, SectionResult, Target } from './context.js';
import { startPipeline } from './harness.js';
import { pipelineModels } from './pipeline.js';
import { bareSession } from './session.js';
import { fmt, table } from './stats.js';

interface LoopFigures { p50: number; p99: number; max: number; inferences: number; seconds: number }

/** Event-loop delay while `work` keeps the process busy for `ms`. */
async function loopDelayDuring(ms: number, work: (until: number) => Promise<number>): Promise<LoopFigures> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  const n = await work(t0 + ms);
  h.disable();
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, inferences: n, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Event-loop delay p99 on the main thread while the pipeline infers flat out (ffmpeg lavfi camera at 60 fps,
 * the largest model of the pipeline section), against the counterfactual of session.run on the main thread.
 */
export async function eventLoopSection(ctx: BenchContext): Promise<SectionResult> {
  const ms = ctx.quick ? 3000 : 10_000;
  const models = await pipelineModels(ctx);
  const m = models[models.length - 1];
  if (!m) throw new Error('no model for the event-loop section');
  const rows: string[][] = [];
  const targets: Target[] = [];
  const data: Record<string, unknown> = { model: m.label };
  for (const camera of ['lavfi:testsrc2=size=640x480:rate=60', 'synthetic']) {
    const run = await startPipeline(m.path, m.resolution, 1, camera, 60);
    await run.collect(3);
    ctx.log(`eventloop: ${m.label}, camera ${camera}, ${ms} ms flat out`);
    const f = await loopDelayDuring(ms, async (until) => {
      let n = 0;
      while (performance.now() < until) n += (await run.collect(5)).perInference.length;
      return n;
    });
    await run.close();
    rows.push([`pipeline (worker), camera ${camera.split('=')[0]}`, fmt(f.p50, 2), fmt(f.p99, 2), fmt(f.max, 1), fmt(f.inferences / f.seconds, 1)]);
    data[camera] = f;
    if (camera.startsWith('lavfi')) targets.push({ what: `event-loop delay p99 while inferring flat out (${m.label}, ffmpeg camera 60 fps)`, target: '< 20 ms', measured: `${fmt(f.p99, 2)} ms (max ${fmt(f.max, 1)})`, met: f.p99 < 20 });
  }
  // what the worker buys: the same model run on the main thread
  const bare = await bareSession(m.path, m.resolution, 1);
  const frame = (await ctx.photos(m.resolution, 1))[0]!;
  ctx.log('eventloop: counterfactual, session.run on the main thread');
  const f = await loopDelayDuring(Math.min(ms, 5000), async (until) => {
    let n = 0;
    while (performance.now() < until) {
      await bare.run(frame);
      n++;
      await new Promise((r) => setImmediate(r));
    }
    return n;
  });
  await bare.release();
  rows.push(['counterfactual: session.run on the main thread', fmt(f.p50, 2), fmt(f.p99, 2), fmt(f.max, 1), fmt(f.inferences / f.seconds, 1)]);
  data.mainThread = f;
  return {
    name: 'eventloop',
    title: 'Event-loop delay on the main thread while inferring flat out (ms)',
    table: table(['setup', 'delay p50', 'delay p99', 'max', 'inf/s'], rows),
    targets,
    notes: ['perf_hooks.monitorEventLoopDelay, resolution 5 ms; the histogram\'s floor is about the timer resolution.'],
    data,
  };
}
