import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/atomic.js';

/**
 * The connection session number: persisted and increased before every connection attempt, so a will
 * (published by the broker long after the connection died) always carries an older number than the
 * `online` of the connection that replaced it.
 */
export class SessionCounter {
  private value: number;
  constructor(private readonly dir: string) {
    this.value = 0;
    try {
      const v = JSON.parse(readFileSync(this.path, 'utf8')) as { session?: unknown };
      if (typeof v.session === 'number' && Number.isSafeInteger(v.session) && v.session >= 0) this.value = v.session;
    } catch { /* first start, or unreadable: start from 0 */ }
  }

  private get path(): string { return join(this.dir, 'mqtt-session.json'); }

  get current(): number { return this.value; }

  next(): number {
    this.value++;
    try { writeFileAtomicSync(this.path, JSON.stringify({ session: this.value })); } catch { /* reported via the outbox/state errors; the number still increases in memory */ }
    return this.value;
  }
}
