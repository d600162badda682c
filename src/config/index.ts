export type { Config, ConfigSource, CameraConfig, EngineConfig, BudgetConfig, ModelsConfig, ModelTask, ProfileConfig, AdaptConfig, MqttConfig, ResultsMode, LogConfig, LogLevel } from './types.js';
export { configSchema, publishedSchema } from './schema.js';
export { loadConfig, nonConfigEnv, sanitiseDeviceId, defaultStateDir, type LoadOptions, type LoadedConfig } from './load.js';
export { fields, envName, type Field } from './fields.js';
export { formatConfig, redactConfig } from './print.js';
export { parseSetFlags, collect } from './flags.js';
import type { BudgetConfig } from './types.js';

/** The latency budget in ms: `latencyMs`, or 1000 / `fps` when it is 0 (validation guarantees one is > 0). */
export function budgetLatencyMs(b: BudgetConfig): number {
  return b.latencyMs > 0 ? b.latencyMs : 1000 / b.fps;
}
