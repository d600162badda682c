import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
// MQTT (mqtt.js, and aedes for the embedded broker) is imported when it is started: `--no-mqtt` and a daemon
// with an external broker do not carry the modules they never run (mqtt.js alone is ~16 MB of RSS)
import type { MqttService } from '../mqtt/service.js';
import type { EmbeddedBroker } from '../mqtt/broker.js';
import type { CommandHandlers } from '../mqtt/commands.js';
import type { Service } from './service.js';

/** The embedded broker of a daemon configured without mqtt.url: port 1883, or a free port when it is taken. */
export class BrokerService implements Service {
  readonly name = 'broker';
  broker: EmbeddedBroker | undefined;

  constructor(private readonly log: Logger) {}

  async start(): Promise<void> {
    const { startEmbeddedBroker } = await import('../mqtt/broker.js');
    try {
      this.broker = await startEmbeddedBroker(1883);
    } catch (err) {
      this.log.warn(`${errorMessage(err)}; the embedded broker uses a free port instead`);
      this.broker = await startEmbeddedBroker(0);
    }
    this.log.info('embedded MQTT broker (MQTT 3.1.1) listening', { url: this.broker.url });
  }

  async stop(): Promise<void> {
    await this.broker?.close();
  }
}

export interface MqttInputs {
  config: Config;
  log: Logger;
  version: string;
  /** mqtt.url, or the embedded broker's */
  url(): string;
  board(): string;
  /** what the running model answers: HA discovery announces its entities */
  task(): 'classification' | 'detection';
  handlers: CommandHandlers;
  say(line: string): void;
  /** several cameras: their ids and tasks (Home Assistant entities per camera) */
  cameras?(): { id: string; task: 'classification' | 'detection' }[];
}

/** The daemon's MQTT client: durable outbox, commands, status, discovery. */
export class MqttClientService implements Service {
  readonly name = 'mqtt';
  mqtt: MqttService | undefined;
  url: string | undefined;

  constructor(private readonly i: MqttInputs) {}

  async start(): Promise<void> {
    const { config: c, log } = this.i;
    const url = this.i.url();
    this.url = url;
    const { MqttService } = await import('../mqtt/service.js');
    const mqtt = new MqttService({
      config: c.mqtt, url, deviceId: c.deviceId, stateDir: c.stateDir, version: this.i.version, board: this.i.board(), handlers: this.i.handlers, task: this.i.task(),
      ...(this.i.cameras ? { cameras: this.i.cameras() } : {}),
    });
    this.mqtt = mqtt;
    mqtt.on('error', (err: Error) => log.warn('mqtt', { error: err.message }));
    mqtt.on('online', (v: number) => log.info('mqtt connected', { broker: mqtt.describeBroker(), protocol: v === 5 ? '5.0' : '3.1.1', session: mqtt.session }));
    mqtt.on('offline', () => log.warn('mqtt disconnected; results go to the durable outbox'));
    mqtt.on('waiting', (ms: number, why: string) => log.info('mqtt reconnect scheduled', { inMs: ms, reason: why }));
    await mqtt.start();
    const u = new URL(url);
    this.i.say(`edgefit: watch the results with:  mosquitto_sub -h ${u.hostname} -p ${u.port || 1883} -t '${c.mqtt.prefix}/${c.deviceId}/#' -v`);
  }

  async stop(): Promise<void> {
    await this.mqtt?.stop();
  }
}
