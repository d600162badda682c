export type { Config, ConfigSource, CameraConfig, CameraEntry, EngineConfig, BudgetConfig, BudgetPercentile, ModelsConfig, ModelTask, ProfileConfig, AdaptConfig, MqttConfig, ResultsMode, LogConfig, LogLevel, FleetConfig } from './types.js';
export { configSchema, publishedSchema } from './schema.js';
export { loadConfig, nonConfigEnv, sanitiseDeviceId, defaultStateDir, type LoadOptions, type LoadedConfig } from './load.js';
export { fields, envName, type Field } from './fields.js';
export { formatConfig, redactConfig } from './print.js';
export { parseSetFlags, collect } from './flags.js';
export { budgetLatencyMs } from './budget.js';
export { camerasOf, cameraView, MAIN_CAMERA, RESERVED_CAMERA_IDS, type ResolvedCamera } from './cameras.js';
