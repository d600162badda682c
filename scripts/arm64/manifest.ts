/** The files the host prepares for the emulated runs, and what each run reports back. Shared by prepare/run/check. */

export const MANIFEST = 'manifest.json';

export interface FrameEntry {
  /** photo file name, or 'fixed' for the synthetic frame */
  name: string;
  /** raw uint8 RGB HWC at the model's resolution, relative to the work dir */
  file: string;
  pixelsSha256: string;
}

export interface ModelEntry {
  id: string;
  precision: 'int8' | 'fp32';
  /** the model edgefit runs, relative to the work dir */
  file: string;
  onnxSha256: string;
  /** sha256 of the source the model was converted from (tflite), or a description of the zoo build */
  source: string;
  resolution: number;
  frames: FrameEntry[];
  /** int8 only: the same graph with every quantized conv input/output as an extra graph output */
  tapsFile?: string;
  /** which frame the tap model runs on */
  tapsFrame?: string;
}

export interface Manifest {
  created: string;
  sharedData: string;
  models: ModelEntry[];
}

export interface TapRecord {
  name: string;
  dims: number[];
  type: string;
  /** raw tensor bytes, relative to the work dir */
  file: string;
  sha256: string;
}

export interface DeviceReport {
  arch: string;
  boardKind: string;
  cpuModel: string;
  cpuPart: string | null;
  cores: number;
  features: Record<string, boolean>;
  int8Kernel: string;
  int8Exact: boolean;
  int8Summary: string;
  providersUsable: string[];
  providersStatus: string;
  /** what the daemon would run with its default configuration: engine.providers filtered by the probe */
  daemonProviders: string[];
  fingerprint: string;
}

export interface ModelRun {
  provider: string;
  loadMs: number;
  /** per frame: the engine's scores, exactly (raw uint8 values for int8 models) */
  outputs: Record<string, number[]>;
  inferMs: Record<string, number>;
  /** tap tensors from one frame */
  taps?: TapRecord[];
  /** the tap model's final output on the taps frame (must equal the real model's) */
  tapsScores?: number[];
  tapsMs?: number;
}

export interface RunReport {
  label: string;
  nodeArch: string;
  nodeVersion: string;
  ortVersion: string;
  device: DeviceReport;
  models: Record<string, ModelRun>;
  timings: { totalMs: number; probeMs: number; startupMs: number };
}
