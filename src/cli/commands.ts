import type { Command } from 'commander';

type Register = (program: Command) => void;

const loadInfer = async (): Promise<Register> => (await import('./infer.js')).register;

/**
 * Every CLI command, by name, each in its own file that only parses flags and prints. Loaded lazily: a command
 * pulls in onnxruntime, TensorFlow.js or h5wasm only when it is the one that runs, so `edgefit run` and
 * `edgefit dashboard` start fast.
 */
export const commands: Record<string, () => Promise<Register>> = {
  run: async () => (await import('./run.js')).register,
  doctor: async () => (await import('./doctor.js')).register,
  models: async () => (await import('./models.js')).register,
  profile: async () => (await import('./profile.js')).register,
  select: async () => (await import('./select.js')).register,
  import: async () => (await import('./import.js')).register,
  quantize: async () => (await import('./quantize.js')).register,
  infer: loadInfer,
  // the old name: the same command (an alias of `infer`), loaded under either name
  classify: loadInfer,
  zoo: async () => (await import('./zoo.js')).register,
  config: async () => (await import('./config.js')).register,
  dashboard: async () => (await import('./dashboard.js')).register,
  catalog: async () => (await import('./catalog.js')).register,
  rollout: async () => (await import('./rollout.js')).register,
};
