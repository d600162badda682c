import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { BenchContext, SectionResult } from './context.js';
import { copyState, removeDir, timeToFirstResult } from './daemon.js';
import { FAST_PROFILE } from './memory.js';
import { fmt, table } from './stats.js';

/** A throw-away mosquitto on a free loopback port (the fleet's figures need a broker that keeps retained messages). */
async function startMosquitto(): Promise<{ url: string; proc: ChildProcess; dir: string }> {
  const bin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto is not installed (node scripts/test-deps.mjs installs it)');
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-bench-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\n${process.getuid?.() === 0 ? 'user root\n' : ''}persistence false\nallow_anonymous true\nmax_queued_messages 100000\n`);
  const proc = spawn(bin, ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((r) => { const c = connect(port, '127.0.0.1', () => { c.end(); r(true); }); c.on('error', () => r(false)); });
    if (up) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { url: `mqtt://127.0.0.1:${port}`, proc, dir };
}

const seedLine = (log: string) => {
  const m = /fleet measurements of this board.*?figures[=:"\s]+(\d+).*?refused[=:"\s]+(\d+).*?ms[=:"\s]+(\d+)/.exec(log);
  return m ? { figures: Number(m[1]), refused: Number(m[2]), ms: Number(m[3]) } : undefined;
};

/**
 * Issue 19: cold start to the first result of a new device, without and with a warm fleet cache (the retained
 * measurements of an identical device), and with 10,000 retained entries of other boards beside them. Each start
 * has an empty profile cache; the fleet cache is what the first (full) profile shared. The budget is tight (the
 * largest rungs miss), so the full profile walks the ladder.
 */
export async function fleetSection(ctx: BenchContext): Promise<SectionResult> {
  await ctx.ladder();
  const broker = await startMosquitto();
  const states: string[] = [];
  const fresh = () => { const s = copyState(ctx.stateDir, false); states.push(s); return s; };
  const budgetMs = 5;
  const profile = ctx.quick ? FAST_PROFILE : [];
  const base = ['--camera', 'synthetic', '--broker', broker.url, '--budget-ms', String(budgetMs), ...profile];
  try {
    ctx.log(`fleet: cold start, no fleet cache (full profile${ctx.quick ? ', short' : ', default settings'}), budget p90 <= ${budgetMs} ms; shares its figures`);
    const full = await timeToFirstResult([...base, '--device-id', 'bench-a', '--state-dir', fresh(), '--set', 'fleet.shareMeasurements=true'], 900_000);
    const watcher = await mqtt.connectAsync(broker.url);
    let shared = 0;
    watcher.on('message', () => { shared++; });
    await watcher.subscribeAsync('edgefit/fleet/measurements/#', { qos: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    await watcher.endAsync();
    ctx.log(`fleet: ${shared} measurements shared; cold start with the fleet cache`);
    const seeded = await timeToFirstResult([...base, '--device-id', 'bench-b', '--state-dir', fresh(), '--set', 'fleet.useMeasurements=true'], 300_000);
    ctx.log('fleet: 10,000 retained entries of other boards; cold start with the fleet cache again');
    const pub = await mqtt.connectAsync(broker.url);
    const t0 = performance.now();
    const filler = JSON.stringify({ format: 'edgefit-fleet-measurement/1', pad: 'x'.repeat(600) });
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => pub.publishAsync(`edgefit/fleet/measurements/fp-other${(i + j) % 200}/1.0/${'a'.repeat(64)}/${96 + ((i + j) % 48)}/cpu/${1 + Math.floor((i + j) / 9600)}`, filler, { qos: 1, retain: true })));
    }
    const fillMs = performance.now() - t0;
    await pub.endAsync();
    const crowded = await timeToFirstResult([...base, '--device-id', 'bench-c', '--state-dir', fresh(), '--set', 'fleet.useMeasurements=true'], 300_000);
    ctx.log('fleet: a second full profile for comparison');
    const full2 = await timeToFirstResult([...base, '--device-id', 'bench-d', '--state-dir', fresh()], 900_000);
    const measuredLines = (log: string) => (log.match(/"?measured"?/g) ?? []).length;
    const s1 = seedLine(seeded.log);
    const s2 = seedLine(crowded.log);
    const same = seeded.variant === full.variant && crowded.variant === full.variant;
    return {
      name: 'fleet',
      title: `Fleet: cold start to the first result, without and with shared measurements (budget p90 <= ${budgetMs} ms, empty profile cache each)`,
      table: table(['start', 'ms', 'variant', 'fleet figures read', 'read ms'], [
        ['cold, no fleet cache (full profile, shares it)', fmt(full.ms, 0), full.variant, '', ''],
        ['cold, warm fleet cache', fmt(seeded.ms, 0), seeded.variant, String(s1?.figures ?? '?'), String(s1?.ms ?? '?')],
        ['cold, warm fleet cache + 10,000 entries of other boards', fmt(crowded.ms, 0), crowded.variant, String(s2?.figures ?? '?'), String(s2?.ms ?? '?')],
        ['cold, no fleet cache (second full profile)', fmt(full2.ms, 0), full2.variant, '', ''],
      ]),
      targets: [
        { what: 'cold start with a warm fleet cache', target: '< 10000 ms', measured: `${fmt(seeded.ms, 0)} ms (${fmt(full.ms / seeded.ms, 1)}x faster than the full profile)`, met: seeded.ms < 10_000 },
        { what: 'the same, with 10,000 other retained entries', target: '< 10000 ms', measured: `${fmt(crowded.ms, 0)} ms`, met: crowded.ms < 10_000 },
        { what: 'same choice as the full profile the fleet figures came from', target: 'same variant', measured: `${seeded.variant} / ${crowded.variant} vs ${full.variant}`, met: same },
      ],
      notes: [
        `The full profile shared ${shared} measurements; the seeded starts measured only the confirmation of their pick (${measuredLines(seeded.log)} / ${measuredLines(crowded.log)} "measured" log lines vs ${measuredLines(full.log)}).`,
        `10,000 retained entries of other boards were published in ${fmt(fillMs, 0)} ms; a device subscribes only its fingerprint's subtree, so they are never sent to it.`,
        'The second full profile shows the noise of a full profile on this machine: a pick near the budget can differ between two full profiles.',
      ],
      data: { budgetMs, quick: ctx.quick, fullMs: full.ms, fullVariant: full.variant, shared, seededMs: seeded.ms, seededVariant: seeded.variant, seed: s1 ?? null, crowdedMs: crowded.ms, crowdedVariant: crowded.variant, crowdedSeed: s2 ?? null, full2Ms: full2.ms, full2Variant: full2.variant, fillMs },
    };
  } finally {
    broker.proc.kill('SIGKILL');
    removeDir(broker.dir);
    for (const s of states) removeDir(s);
  }
}
