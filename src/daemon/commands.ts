import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { EdgefitError } from '../util/errors.js';
import type { FrameSource } from '../camera/source.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { MqttService } from '../mqtt/service.js';
import type { CommandHandlers } from '../mqtt/commands.js';
import { snapshotJpeg } from './snapshot.js';
import { MAIN_CAMERA } from '../config/cameras.js';
import type { Service } from './service.js';

export interface Reselection { variant: string; switched: boolean }

/** What the commands act on; getters, because these are built while the daemon starts. */
export interface CommandTarget {
  config: Config;
  log: Logger;
  /** aborted when the daemon stops: kills a pull-model's child process */
  signal: AbortSignal;
  stopped(): boolean;
  reselect(reason: string, budget?: Partial<Config['budget']>): Promise<Reselection>;
  reloadLadder(): Promise<void>;
  variant(): string;
  pipeline(): Pipeline;
  source(): FrameSource;
  mqtt(): MqttService | undefined;
  /** several cameras: the source and snapshot topic of a camera (undefined: the first); absent = the one camera */
  snapshotOf?(camera: string | undefined): { source: FrameSource; topic: string };
}

export function stoppingError(): EdgefitError {
  return new EdgefitError('E_STOPPING', 'the daemon is stopping; send the command again once it is back online');
}

/** The MQTT commands (src/mqtt/commands.ts validates them); its stop waits for the pull-model in progress. */
export class CommandsService implements Service {
  readonly name = 'commands';
  /** the pull-model in progress (the dispatcher lets one run at a time) */
  private pulling: Promise<unknown> | undefined;

  constructor(private readonly t: CommandTarget) {}

  async start(): Promise<void> {}

  /** the pull's child is killed by the target's signal, aborted before the services stop */
  async stop(): Promise<void> {
    await this.pulling;
  }

  handlers(): CommandHandlers {
    const t = this.t;
    const live = <A, R>(fn: (args: A) => Promise<R>) => async (args: A): Promise<R> => {
      if (t.stopped()) throw stoppingError();
      return fn(args);
    };
    return {
      reselect: live(async () => t.reselect('command')),
      'set-budget': live(async (args) => t.reselect(`budget changed: ${JSON.stringify(args)}`, args)),
      pause: live(async () => { t.pipeline().pause(); return { paused: true }; }),
      resume: live(async () => { t.pipeline().resume(); return { paused: false }; }),
      'pull-model': live(async (args) => {
        const config = t.config;
        if (args.mirror) {
          const [{ checkCommandMirror }, { loadCatalog }] = await Promise.all([import('../catalog/mirror-policy.js'), import('../catalog/catalog.js')]);
          checkCommandMirror(args.mirror, config, loadCatalog(config.models.catalog));
        }
        // downloads and conversion run in a child process, killed past models.pullTimeoutSeconds or at stop():
        // a model file that crashes a converter, or a transfer that hangs, cannot take the daemon down or hold it
        const { pullModelsIsolated } = await import('../catalog/pull-isolated.js');
        const pull = pullModelsIsolated({ ...config, models: { ...config.models, ...(args.mirror ? { mirror: args.mirror } : {}) } }, { ...(args.id ? { only: [args.id] } : {}), deviceForms: true }, {
          log: (line) => t.log.info(line), signal: t.signal,
        });
        this.pulling = pull.catch(() => undefined);
        const report = await pull;
        if (t.stopped()) throw stoppingError();
        const changed = report.items.some((i) => i.status === 'downloaded' || i.convert === 'converted' || (i.weightForm !== undefined && !i.weightForm.includes('(cached)')));
        let sel: Reselection = { variant: t.variant(), switched: false };
        if (changed) {
          await t.reloadLadder();
          sel = await t.reselect('models pulled');
        }
        // a failed transfer (bad sha256, unreachable mirror, not a model) is an error reply, not ok with a buried status
        if (!report.ok) {
          const why = report.items.filter((i) => i.error || i.convertError).map((i) => `${i.id}: ${i.error ?? i.convertError}`).join('; ');
          throw new EdgefitError('E_PULL', `pull failed: ${why || 'a file is missing'}; running ${sel.variant}${changed ? '' : ' (unchanged)'}`);
        }
        return { pulled: report.items.map((i) => ({ id: i.id, status: i.status })), ...sel };
      }),
      snapshot: live(async (args) => {
        const mqtt = t.mqtt()!;
        if (!t.snapshotOf && args.camera !== undefined && args.camera !== MAIN_CAMERA) throw new EdgefitError('E_UNKNOWN_CAMERA', `this device has one camera, "${MAIN_CAMERA}" (got "${args.camera}"); leave camera out`);
        const { source, topic } = t.snapshotOf ? t.snapshotOf(args.camera) : { source: t.source(), topic: mqtt.topics.snapshot };
        const jpeg = await snapshotJpeg(source, args.quality ?? 80);
        await mqtt.publishRaw(topic, jpeg, true);
        return { topic, bytes: jpeg.length, width: source.stats().width, height: source.stats().height };
      }),
    };
  }
}
