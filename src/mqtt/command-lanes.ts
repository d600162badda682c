import type { CommandVerb } from './payloads.js';

/** How many commands of one kind may run, and wait, at once; one more is refused at once with `busy`. */
export interface Lane {
  running: number;
  waiting: number;
}

export const COMMAND_LANES = {
  // a pull downloads and converts for minutes in a child process: a second one is refused, not queued behind it
  pull: { running: 1, waiting: 0 },
  // the daemon switches models one at a time anyway; a few re-selections may wait, a flood may not pile up
  // behind them (each may load a model, and a stop waits for the one running)
  select: { running: 1, waiting: 4 },
  snapshot: { running: 1, waiting: 2 },
} satisfies Record<string, Lane>;

export type LaneName = keyof typeof COMMAND_LANES;

export const LANE_OF: Partial<Record<CommandVerb, LaneName>> = { 'pull-model': 'pull', reselect: 'select', 'set-budget': 'select', snapshot: 'snapshot' };

// pull-model bounds itself (its child is killed after models.pullTimeoutSeconds, then it re-selects): its reply
// waits for the outcome instead of a `timeout` while the pull goes on
export const OWN_DEADLINE: ReadonlySet<CommandVerb> = new Set(['pull-model']);

/** Slots of one lane: acquire() gives a release function once a slot is free, or undefined when all are taken. */
export class Gate {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly lane: Lane) {}

  acquire(): Promise<() => void> | undefined {
    if (this.active < this.lane.running) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.lane.waiting) return undefined;
    return new Promise((resolve) => this.queue.push(() => resolve(this.releaser())));
  }

  get load(): { running: number; waiting: number } { return { running: this.active, waiting: this.queue.length }; }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    };
  }
}
