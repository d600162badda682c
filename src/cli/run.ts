import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { createDaemon } from '../daemon.js';
import type { Config } from '../config/index.js';
import { createLogger } from '../util/log.js';
import { projectRoot } from '../util/paths.js';
import { errorMessage } from '../util/errors.js';
import { onStdoutClosed } from './stdout.js';
import { loadConfigFrom, withConfig, type ConfigFlags } from './config-flags.js';

export interface RunFlags extends ConfigFlags {
  camera?: string; json?: boolean; mqtt?: boolean; broker?: string;
  budgetMs?: string; deviceId?: string; logLevel?: string;
}

/**
 * The configuration `run` starts with: --json means a line per inferred frame, unless the configuration chose a
 * results mode. Decided on where the loaded mqtt.results.mode came from, so a file given by --config or by
 * $EDGEFIT_CONFIG, EDGEFIT_MQTT_RESULTS_MODE and --set all count alike: what the file says matters, not how it
 * was named.
 */
export function runConfig(flags: RunFlags, overrides: Record<string, unknown> = {}): Config {
  const loaded = loadConfigFrom(flags, overrides);
  if (!flags.json || loaded.sources['mqtt.results.mode'] !== 'default') return loaded.config;
  // loaded again rather than patched: the value goes through the same validation as any flag's
  return loadConfigFrom(flags, { ...overrides, 'mqtt.results.mode': 'every' }).config;
}

export function register(program: Command): void {
  withConfig(program
    .command('run')
    .description('probe the board, pick the largest model that fits, run it on the camera and publish over MQTT')
    .option('--camera <source>', 'auto, synthetic, /dev/videoN, rtsp://..., http://..., a video file, lavfi:testsrc2, folder:DIR (camera.source)')
    .option('--broker <url>', 'MQTT broker URL (mqtt.url); without one an embedded broker runs on loopback')
    .option('--no-mqtt', 'no MQTT at all: results only on stdout (--json) and in the log')
    .option('--json', 'print every published result as a JSON line on stdout (schema: schemas/mqtt/result.schema.json)')
    .option('--budget-ms <ms>', 'latency budget at the configured percentile (budget.latencyMs)')
    .option('--device-id <id>', 'device id in topics (deviceId)')
    .option('--log-level <level>', 'debug, info, warn or error (log.level)'))
    .action(async (flags: RunFlags) => {
      // V8 doubles a young generation whose scavenges see many survivors (start-up does: ladder, config,
      // profiling) up to 16 MB per semi-space, and never gives it back in a process that never idles. The
      // daemon allocates little per frame, so the young generation stays at its initial size: measured 0-30 MB
      // less RSS, results/s and event-loop delay unchanged (docs/performance.md). Read when V8 grows the
      // space, so it applies to this isolate and to the inference worker started later.
      setFlagsFromString('--semi-space-growth-factor=1');
      const overrides: Record<string, unknown> = {};
      if (flags.camera !== undefined) overrides['camera.source'] = flags.camera;
      if (flags.broker !== undefined) overrides['mqtt.url'] = flags.broker;
      if (flags.budgetMs !== undefined) overrides['budget.latencyMs'] = flags.budgetMs;
      if (flags.deviceId !== undefined) overrides.deviceId = flags.deviceId;
      if (flags.logLevel !== undefined) overrides['log.level'] = flags.logLevel;
      // a bad configuration ends here, before anything is touched
      const config = runConfig(flags, overrides);
      const log = createLogger(config.log.level, config.log.json);
      const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
      const daemon = createDaemon({ config, log, version, json: flags.json ?? false, mqtt: flags.mqtt !== false });

      let stopping = false;
      const stop = (code: number) => {
        stopping = true;
        daemon.stop().then(() => process.exit(code), (err: unknown) => { log.error('stop failed', { error: errorMessage(err) }); process.exit(1); });
      };
      const shutdown = (signal: string) => {
        if (stopping) {
          log.warn(`${signal} again: exiting without a clean stop`);
          process.exit(1);
        }
        log.info(`${signal}: stopping`);
        stop(0);
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      // `run --json | head`: the reader is gone, so are the results' only consumer on this side; the same
      // clean stop as SIGTERM (MQTT still gets `stopped`, the outbox is closed whole), exit 0 as for a signal
      onStdoutClosed((err) => {
        if (stopping) return;
        if (err.code === 'EPIPE') log.info('stdout closed by its reader: stopping');
        else log.error(`cannot write results to stdout (${err.message}): stopping`);
        stop(err.code === 'EPIPE' ? 0 : 1);
      });
      process.on('unhandledRejection', (err) => { log.error('unhandled rejection (a bug: please report it)', { error: errorMessage(err) }); });
      try {
        await daemon.start();
      } catch (err) {
        log.error(errorMessage(err));
        await daemon.stop().catch(() => undefined);
        process.exit(1);
      }
    });
}
