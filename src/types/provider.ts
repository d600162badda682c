/** An inference runtime and its execution provider, as the config, device probe, profiler and engine name them. */
export type ProviderName = 'tensorrt' | 'cuda' | 'cpu' | 'wasm' | 'tfjs-node' | 'tfjs-wasm';
