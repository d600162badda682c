import type { LoadedConfig } from './load.js';
import { getAt } from './load.js';
import { fields, envName } from './fields.js';
import type { Config, ConfigSource } from './types.js';
import { shownSetting } from './redact-settings.js';

/** A copy of the configuration safe to print or publish: secrets replaced by "***" when set. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  copy.mqtt.password = shownSetting('mqtt.password', copy.mqtt.password) as string;
  copy.mqtt.url = shownSetting('mqtt.url', copy.mqtt.url) as string;
  // rtsp://user:pass@camera and an authenticated http(s) mirror carry passwords too; paths are left alone
  copy.camera.source = shownSetting('camera.source', copy.camera.source) as string;
  for (const c of copy.cameras) c.source = shownSetting('camera.source', c.source) as string;
  copy.models.mirror = shownSetting('models.mirror', copy.models.mirror) as string;
  return copy;
}

function sourceWords(path: string, source: ConfigSource, file: string | undefined): string {
  switch (source) {
    case 'default': return 'default';
    case 'file': return `file ${file ?? ''}`.trim();
    case 'env': return envName(path);
    case 'flag': return 'flag';
  }
}

/** The effective configuration with the source of every value, as text (one setting a line) or JSON. */
export function formatConfig(loaded: LoadedConfig, opts: { json?: boolean } = {}): string {
  const config = redactConfig(loaded.config);
  if (opts.json) return JSON.stringify({ config, sources: loaded.sources, ...(loaded.file ? { file: loaded.file } : {}) }, null, 2);
  const rows = fields.map((f) => {
    const v = getAt(config, f.segments);
    const shown = Array.isArray(v) ? (v.some((x) => typeof x === 'object') ? JSON.stringify(v) : v.join(',')) : typeof v === 'string' ? JSON.stringify(v) : String(v);
    return [f.path, shown, sourceWords(f.path, loaded.sources[f.path] ?? 'default', loaded.file)] as const;
  });
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.min(48, Math.max(...rows.map((r) => r[1].length)));
  return rows.map(([p, v, s]) => `${p.padEnd(w0)}  ${v.padEnd(w1)}  (${s})`).join('\n');
}
