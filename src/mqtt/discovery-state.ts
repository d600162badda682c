import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { DiscoveryMessage } from './discovery.js';

/**
 * The discovery topics this device announced last time, kept in <stateDir>/ha-discovery.json: an entity that is
 * no longer announced (a watched label dropped, the task changed) is removed with an empty retained config even
 * when the code no longer knows its name.
 */
export class DiscoveryRecord {
  private readonly path: string;
  /** the topics on disk, once read or written: an unchanged list is not written (and synced) again */
  private onDisk: string[] | undefined;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'ha-discovery.json');
  }

  /** `msgs` plus a removal for every topic announced before and not in `msgs` */
  async withStale(msgs: readonly DiscoveryMessage[]): Promise<DiscoveryMessage[]> {
    const current = new Set(msgs.map((m) => m.topic));
    const stale = (await this.read()).filter((t) => !current.has(t));
    return [...msgs, ...stale.map((topic) => ({ topic, payload: '' }))];
  }

  /** records the topics announced (with a config, not removals) once they are published */
  async save(msgs: readonly DiscoveryMessage[]): Promise<void> {
    const topics = msgs.filter((m) => m.payload !== '').map((m) => m.topic);
    if (this.onDisk && sameList(this.onDisk, topics)) return;
    await writeFileAtomic(this.path, JSON.stringify({ topics }) + '\n');
    this.onDisk = topics;
  }

  private async read(): Promise<string[]> {
    // known again only from an exact read: a record lost or damaged since must be written at the next save
    this.onDisk = undefined;
    try {
      const j = JSON.parse(await readFile(this.path, 'utf8')) as { topics?: unknown };
      // a damaged record loses only the clean-up of entities nobody announces any more
      if (!Array.isArray(j.topics)) return [];
      const topics = j.topics.filter((t): t is string => typeof t === 'string' && t.endsWith('/config') && !/[+#\u0000]/.test(t));
      // what was filtered out is still on disk: only an exact copy lets a save be skipped
      if (topics.length === j.topics.length) this.onDisk = topics;
      return topics;
    } catch {
      return [];
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
