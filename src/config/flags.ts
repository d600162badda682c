import { EdgefitError } from '../util/errors.js';

/**
 * `--set key.path=value` flags (repeatable) as overrides for loadConfig. The value stays text: loadConfig
 * parses it by the field's schema type, so errors name the field and its accepted values.
 */
export function parseSetFlags(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of values ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new EdgefitError('E_CONFIG', `config: --set expects key.path=value (got ${JSON.stringify(item)}), e.g. --set mqtt.url=mqtt://broker:1883`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

/** commander collector for a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
