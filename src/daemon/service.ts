/**
 * One part of the running daemon (the zigbee2mqtt shape): the composition root builds a list of these, starts
 * them in order and stops the started ones in reverse, so a part is stopped only after everything that uses it.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts in order, stops in reverse. A service is stopped once its start has begun (a camera still opening is
 * closed); a stop during start() ends it without starting the services after the one in progress.
 */
export class ServiceList {
  private readonly started: Service[] = [];
  private stopping = false;

  constructor(private readonly services: readonly Service[]) {}

  async start(): Promise<void> {
    for (const s of this.services) {
      if (this.stopping) return;
      this.started.push(s);
      await s.start();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const s of this.started.splice(0).reverse()) await s.stop();
  }
}
