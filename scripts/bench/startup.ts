import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import type { BenchContext, SectionResult } from './context.js';
import { copyState, removeDir, timeToFirstResult } from './daemon.js';
import { FAST_PROFILE } from './memory.js';
import { fmt, median, table } from './stats.js';

function timeCommand(args: string[]): number {
  const t0 = performance.now();
  spawnSync(process.execPath, args, { cwd: projectRoot, stdio: 'ignore' });
  return performance.now() - t0;
}

/**
 * Process start to the first published result: cold (empty profile cache: the daemon profiles the ladder
 * first, with its default profiling settings) and warm (the cache the cold start wrote), --json on stdout.
 */
export async function startupSection(ctx: BenchContext): Promise<SectionResult> {
  await ctx.ladder();
  const state = copyState(ctx.stateDir, false);
  const base = ['--camera', 'synthetic', '--state-dir', state];
  const profile = ctx.quick ? FAST_PROFILE : [];
  try {
    ctx.log(`startup: cold start (empty profile cache${ctx.quick ? ', short profiling' : ', default profiling'})`);
    const cold = await timeToFirstResult([...base, '--no-mqtt', ...profile], 900_000);
    const measured = (cold.log.match(/measured/g) ?? []).length;
    const warm: number[] = [];
    let variant = cold.variant;
    for (let i = 0; i < (ctx.quick ? 2 : 3); i++) {
      const w = await timeToFirstResult([...base, '--no-mqtt', ...profile], 120_000);
      warm.push(w.ms);
      variant = w.variant;
    }
    ctx.log('startup: warm start with the embedded MQTT broker');
    const warmMqtt = await timeToFirstResult([...base, ...profile], 120_000);
    const nodeStart = median([0, 1, 2].map(() => timeCommand(['-e', ''])));
    const cliStart = median([0, 1, 2].map(() => timeCommand([join(projectRoot, 'bin/edgefit.js'), '--help'])));
    const w50 = median(warm);
    return {
      name: 'startup',
      title: 'Start-up: process start to the first published result (ms)',
      table: table(['start', 'ms', 'variant'], [
        ['cold (empty profile cache)', fmt(cold.ms, 0), cold.variant],
        ...warm.map((w, i) => [`warm #${i + 1} (cached profile), --no-mqtt`, fmt(w, 0), variant]),
        ['warm, embedded MQTT broker (result acknowledged)', fmt(warmMqtt.ms, 0), warmMqtt.variant],
        ['for scale: node -e ""', fmt(nodeStart, 0), ''],
        ['for scale: edgefit --help', fmt(cliStart, 0), ''],
      ]),
      targets: [
        { what: 'warm start to first result (median)', target: '< 3000 ms', measured: `${fmt(w50, 0)} ms`, met: w50 < 3000 },
        { what: 'cold start to first result', target: '(reported)', measured: `${fmt(cold.ms / 1000, 1)} s, ${measured} measurement log lines`, met: null },
      ],
      notes: ['Cold includes probing the device and profiling candidates in child processes; warm reuses the profile cache and only loads the chosen model.'],
      data: { coldMs: cold.ms, coldVariant: cold.variant, coldMeasurementLines: measured, warmMs: warm, warmMqttMs: warmMqtt.ms, nodeStartMs: nodeStart, cliHelpMs: cliStart, quickProfile: ctx.quick },
    };
  } finally {
    removeDir(state);
  }
}
