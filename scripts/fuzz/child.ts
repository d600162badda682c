/**
 * Child-process side of the fuzzer (compiled, run through fork): imports or loads one mutated file per message and
 * says how it went. A crash or a hang of the code under test ends this process, never the harness; the harness
 * restarts it. 'bug' means an error that was not an EdgefitError escaped, or an accepted input broke an invariant.
 */
import { tmpdir } from 'node:os';
import type { FuzzJob, FuzzReply } from './protocol.js';
import { EdgefitError, errorMessage } from '../../src/util/errors.js';

async function runJob(job: FuzzJob): Promise<Omit<FuzzReply, 'id'>> {
  try {
    if (job.kind === 'config') {
      const { loadConfig } = await import('../../src/config/index.js');
      const { deviceTopics, validatePrefix } = await import('../../src/mqtt/topics.js');
      const { config } = loadConfig({ file: job.path, env: {}, host: { hostname: 'fuzz-host', isRoot: false, home: tmpdir() } });
      // what the loader accepts must be usable as topics: the daemon must not discover a bad level later
      try {
        deviceTopics(config.mqtt.prefix, config.deviceId);
        validatePrefix(config.mqtt.homeAssistant.prefix);
      } catch (err) {
        return { outcome: 'bug', message: `accepted by loadConfig but refused as a topic: ${errorMessage(err)}` };
      }
      if (({} as Record<string, unknown>).polluted !== undefined) return { outcome: 'bug', message: 'Object.prototype was polluted' };
      return { outcome: 'imported' };
    }
    const { importModel } = await import('../../src/importers/index.js');
    const r = await importModel(job.path);
    if (!(r.onnx instanceof Uint8Array) || r.onnx.length === 0 || !(r.card.classes > 0)) return { outcome: 'bug', message: 'imported without a model or a class count' };
    return { outcome: 'imported' };
  } catch (err) {
    if (err instanceof EdgefitError) return { outcome: 'refused', code: err.code, message: err.message.slice(0, 300) };
    return { outcome: 'bug', message: `${err instanceof Error ? err.constructor.name : typeof err}: ${errorMessage(err).slice(0, 300)}` };
  }
}

process.on('message', (job: FuzzJob) => {
  void runJob(job).then((r) => process.send?.({ id: job.id, ...r } satisfies FuzzReply));
});
process.on('disconnect', () => process.exit(0));
