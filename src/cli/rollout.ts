import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { catalogVersionOf, loadPublicKey, signaturePathOf, verifyCatalog } from '../catalog/signature.js';
import { fleetClientOptions } from '../mqtt/fleet-measurements.js';
import { DEFAULT_THRESHOLDS, parseShare, type RolloutState, type RolloutThresholds } from '../mqtt/fleet-rollout.js';
import { controlRollout, rolloutStatus, runRollout, type BrokerOptions } from '../mqtt/fleet-rollout-controller.js';
import { configFrom, withConfig, type ConfigFlags } from './config-flags.js';

interface Flags extends ConfigFlags { broker?: string; group?: string; json?: boolean }

function broker(f: Flags): BrokerOptions {
  const c = configFrom(f);
  const url = f.broker ?? c.mqtt.url;
  if (!url) throw new EdgefitError('E_FLAGS', '--broker URL is required (or mqtt.url in the configuration): the broker the group\'s devices use');
  const { clientId: _, ...client } = fleetClientOptions(c.mqtt, 'unused');
  return { url, prefix: c.mqtt.prefix, client };
}

function group(f: Flags): string {
  if (!f.group) throw new EdgefitError('E_FLAGS', '--group NAME is required (the devices\' fleet.group)');
  return f.group;
}

function number(flag: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new EdgefitError('E_FLAGS', `--${flag} must be a number ${min}..${max} (got ${JSON.stringify(v)})`);
  return n;
}

function describe(s: RolloutState): string {
  const lines = [`rollout ${s.rolloutId} of group ${s.group}: ${s.status}, catalog version ${s.catalogVersion}, stage ${s.stage + 1}/${s.stages.length} (${s.stages.map((x) => `${Math.round(x * 100)}%`).join(' -> ')}), ${s.devices} device(s)`, `  ${s.message}`];
  s.results.forEach((r, i) => {
    lines.push(`  stage ${i + 1} (${Math.round(r.share * 100)}%): ${r.healthy.length} healthy, ${r.unhealthy.length} unhealthy, ${r.waiting.length} waiting of ${r.devices}`);
    for (const u of r.unhealthy) lines.push(`    ${u.deviceId}: ${u.reason}`);
  });
  return lines.join('\n');
}

export function register(program: Command): void {
  const rollout = program.command('rollout').description('staged rollouts of a signed catalog to a group of devices (docs/fleet.md)');
  const common = (cmd: Command) => withConfig(cmd.option('--broker <url>', 'the broker of the group (default: mqtt.url)').option('--group <name>', 'the devices\' fleet.group').option('--json', 'print JSON'));

  common(rollout.command('start')
    .description('publish the catalog to the group stage by stage (canary, 50%, 100%) while every stage is healthy; halt and roll back otherwise. Runs until the rollout ends; exit 0 only when it completed')
    .option('--catalog <file>', 'the signed catalog (its signature: <file>.sig, from `edgefit catalog sign`)')
    .option('--canary <share>', 'the first stage, e.g. 10%', '10%')
    .option('--key <public.pem>', 'check the signature before publishing (default: models.publicKey)')
    .option('--stage-timeout <s>', `a device silent this long in its stage counts as unhealthy (default ${DEFAULT_THRESHOLDS.stageTimeoutSeconds})`)
    .option('--max-p90-ratio <x>', `new p90 at most x times the previous (default ${DEFAULT_THRESHOLDS.maxP90Ratio})`)
    .option('--min-fps-ratio <x>', `fps at least x times the previous (default ${DEFAULT_THRESHOLDS.minFpsRatio})`)
    .option('--max-crashes <n>', `crashes plus restarts allowed while proving (default ${DEFAULT_THRESHOLDS.maxCrashes})`)
    .option('--min-fidelity <x>', `top-1 agreement with the previous model on probe frames (default ${DEFAULT_THRESHOLDS.minFidelity})`)
    .option('--max-unhealthy <share>', 'share of a stage allowed to be unhealthy (default 0)'))
    .action(async (f: Flags & { catalog?: string; canary: string; key?: string; stageTimeout?: string; maxP90Ratio?: string; minFpsRatio?: string; maxCrashes?: string; minFidelity?: string; maxUnhealthy?: string }) => {
      if (!f.catalog) throw new EdgefitError('E_FLAGS', '--catalog FILE is required');
      const canary = parseShare(f.canary);
      const thresholds: RolloutThresholds = {
        stageTimeoutSeconds: number('stage-timeout', f.stageTimeout, DEFAULT_THRESHOLDS.stageTimeoutSeconds, 1, 86_400),
        maxP90Ratio: number('max-p90-ratio', f.maxP90Ratio, DEFAULT_THRESHOLDS.maxP90Ratio, 1, 100),
        minFpsRatio: number('min-fps-ratio', f.minFpsRatio, DEFAULT_THRESHOLDS.minFpsRatio, 0, 1),
        maxCrashes: number('max-crashes', f.maxCrashes, DEFAULT_THRESHOLDS.maxCrashes, 0, 1e6),
        minFidelity: number('min-fidelity', f.minFidelity, DEFAULT_THRESHOLDS.minFidelity, 0, 1),
        maxUnhealthyShare: f.maxUnhealthy === undefined ? 0 : parseShare(f.maxUnhealthy, '--max-unhealthy', true),
      };
      let bytes: Buffer;
      let sig: string;
      try { bytes = readFileSync(f.catalog); } catch (err) { throw new EdgefitError('E_FLAGS', `cannot read --catalog ${f.catalog} (${errorMessage(err)})`, { cause: err }); }
      try { sig = readFileSync(signaturePathOf(f.catalog), 'utf8'); } catch (err) {
        throw new EdgefitError('E_SIGNATURE', `${f.catalog} is not signed (${signaturePathOf(f.catalog)}: ${errorMessage(err)}); a rollout publishes signed catalogs only: \`edgefit catalog sign --key PRIVATE.pem --catalog ${f.catalog}\``, { cause: err });
      }
      const keyPath = f.key ?? configFrom(f).models.publicKey;
      if (keyPath) verifyCatalog(bytes, f.catalog, loadPublicKey(keyPath, 'check --key'), sig);
      const version = catalogVersionOf(bytes, f.catalog);
      if (version === undefined) throw new EdgefitError('E_CATALOG', `${f.catalog} has no catalogVersion`);
      const say = (l: string) => process.stderr.write(`rollout: ${l}\n`);
      const final = await runRollout({
        ...broker(f), group: group(f), catalogText: bytes.toString('utf8'), signatureText: sig, catalogVersion: version,
        catalogSha256: createHash('sha256').update(bytes).digest('hex'), canary, thresholds, log: say,
      });
      process.stdout.write((f.json ? JSON.stringify(final, null, 2) : describe(final)) + '\n');
      if (final.status !== 'completed') process.exitCode = 1;
    });

  common(rollout.command('status').description('the group\'s rollout, from its retained state (any process)'))
    .action(async (f: Flags) => {
      const { state, live } = await rolloutStatus({ ...broker(f), group: group(f) });
      if (!state) { process.stdout.write(f.json ? 'null\n' : `group ${group(f)} has no rollout\n`); return; }
      process.stdout.write(f.json ? JSON.stringify({ ...state, controllerAlive: live }, null, 2) + '\n' : `${describe(state)}\n  controller: ${live ? 'running' : 'not running'}\n`);
    });

  for (const action of ['pause', 'resume', 'abort'] as const) {
    common(rollout.command(action).description(action === 'abort' ? 'stop the rollout and roll every switched device back (works without a running controller)' : `${action} the running rollout between stages`))
      .action(async (f: Flags) => {
        process.stdout.write(`${await controlRollout({ ...broker(f), group: group(f) }, action)}\n`);
      });
  }
}
