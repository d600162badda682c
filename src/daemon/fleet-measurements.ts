import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { ProfileCache, ortVersion } from '../profile/cache.js';
import { cachePathOf } from '../select/choose.js';
import type { FleetSeed } from '../select/fleet-seed.js';
import type { MqttService } from '../mqtt/service.js';
import type { Service } from './service.js';

/** The most entries one device shares: every rung of a large ladder at 3 thread counts on 2 providers. */
export const MAX_SHARED = 512;

/**
 * The fleet's measurements of this board for the first selection (fleet.useMeasurements with an external broker),
 * read on a short-lived connection before the daemon's own link exists. Undefined: not configured.
 */
export async function readFleetSeed(c: Config, board: string, log: Logger): Promise<FleetSeed | undefined> {
  if (!c.fleet.useMeasurements || !c.mqtt.url) return undefined;
  // the fleet shares figures of the bundled onnxruntime only; another build's latency is its own to measure
  if (c.engine.ortLibraryPath) {
    log.info('fleet measurements not used: engine.ortLibraryPath names another onnxruntime build than the fleet\'s figures were measured on');
    return undefined;
  }
  const { fetchFleetSeed } = await import('../mqtt/fleet-measurements.js');
  const seed = await fetchFleetSeed({
    url: c.mqtt.url, mqtt: c.mqtt, deviceId: c.deviceId, board, ortVersion: ortVersion(), waitMs: c.fleet.seedWaitSeconds * 1000,
    log: (line, fields) => log.warn(line, fields),
  });
  log.info('fleet measurements of this board', { figures: seed.figures.length, refused: seed.refused, complete: seed.complete, ms: seed.ms });
  return seed;
}

export interface FleetShareInputs {
  config: Config;
  log: Logger;
  board(): string;
  mqtt(): MqttService | undefined;
}

/**
 * Shares this device's own profile measurements (fleet.shareMeasurements): each entry of the profile cache for
 * this board and runtime, retained under the fleet topic of its key, once per entry per process (the broker
 * keeps them); on start and again on every reconnection for entries not yet published (a re-selection after a
 * pull measures new ones).
 */
export class FleetShareService implements Service {
  readonly name = 'fleet-share';
  private readonly published = new Map<string, string>();
  private onOnline = (): void => { void this.publish(); };
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly i: FleetShareInputs) {}

  async start(): Promise<void> {
    const mqtt = this.i.mqtt();
    if (!mqtt) return;
    mqtt.on('online', this.onOnline);
    await this.publish();
  }

  /** Publishes what is not yet published; serialised, so a reconnect during a publish does not double it. */
  publish(): Promise<void> {
    this.running = this.running.then(() => this.publishNow()).catch((err: unknown) => this.i.log.warn('sharing measurements failed; retried on the next connection', { error: errorMessage(err) }));
    return this.running;
  }

  private async publishNow(): Promise<void> {
    const mqtt = this.i.mqtt();
    if (!mqtt) return;
    const [{ measurementPayload }, { fleetTopics, fingerprintLevel }] = await Promise.all([import('../mqtt/fleet-measurements.js'), import('../mqtt/topics.js')]);
    const c = this.i.config;
    const board = this.i.board();
    const version = ortVersion();
    const topics = fleetTopics(c.mqtt.prefix);
    const fp = fingerprintLevel(board);
    const entries = new ProfileCache(cachePathOf(c)).list(board).filter((e) => e.key.ortVersion === version).slice(0, MAX_SHARED);
    let sent = 0;
    for (const e of entries) {
      const p = measurementPayload(c.deviceId, e);
      if (!p) continue;
      const topic = topics.measurement(fp, version, e.key.sha256, e.key.resolution, e.key.provider, e.key.threads);
      if (this.published.get(topic) === e.measurement.measuredAt) continue;
      await mqtt.publishFleet(topic, JSON.stringify(p));
      this.published.set(topic, e.measurement.measuredAt);
      sent++;
    }
    if (sent > 0) this.i.log.info('shared measurements with the fleet', { entries: sent });
  }

  async stop(): Promise<void> {
    this.i.mqtt()?.off('online', this.onOnline);
    await this.running;
  }
}
