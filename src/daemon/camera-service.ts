import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { createFrameSource } from '../camera/registry.js';
import type { FrameFit } from '../camera/source.js';
import type { FrameSource } from '../camera/source.js';
import type { MqttService } from '../mqtt/service.js';
import type { Service } from './service.js';

/** The camera, opened at the chosen model's resolution; going offline is an MQTT event. */
export class CameraService implements Service {
  readonly name = 'camera';
  private src: FrameSource | undefined;

  /** `name`: the camera's id when there are several (in its log lines and events) */
  constructor(private readonly i: { config: Config; log: Logger; resolution(): number; fit(): FrameFit; mqtt(): MqttService | undefined; name?: string }) {}

  get source(): FrameSource {
    if (!this.src) throw new Error('the camera is not started yet');
    return this.src;
  }

  async start(): Promise<void> {
    const { config: c, log } = this.i;
    const size = this.i.resolution();
    const source = await createFrameSource(c.camera.source, {
      width: size, height: size, fit: this.i.fit(), fps: c.camera.fps, watchdogSeconds: c.camera.watchdogSeconds, loop: c.camera.loop, ffmpegPath: c.camera.ffmpegPath,
    });
    this.src = source;
    const name = this.i.name;
    const who = name ? { camera: name } : {};
    source.on('error', (err: Error) => log.warn('camera', { ...who, error: err.message }));
    source.on('offline', (why: string) => { log.warn('camera offline', { ...who, reason: why }); void this.i.mqtt()?.publishEvent({ type: 'camera', message: `${name ? `${name} ` : ''}offline: ${why}` }); });
    source.on('online', () => { log.info('camera online', who); if (name) void this.i.mqtt()?.publishEvent({ type: 'camera', message: `${name} online` }); });
    source.on('retry', (ms: number) => log.info('camera restart scheduled', { ...who, inMs: ms }));
    await source.start();
    log.info('camera', { ...who, source: source.name });
  }

  async stop(): Promise<void> {
    await this.src?.stop();
  }
}
