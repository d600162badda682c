/** Messages between the fuzz harness and its child process. */
export type FuzzKind = 'tflite' | 'keras' | 'onnx' | 'config';

export interface FuzzJob {
  id: number;
  kind: FuzzKind;
  /** the mutated file (its extension selects the importer, or YAML/JSON for the config loader) */
  path: string;
}

export type FuzzOutcome = 'imported' | 'refused' | 'bug';

export interface FuzzReply {
  id: number;
  outcome: FuzzOutcome;
  /** EdgefitError code when refused */
  code?: string;
  message?: string;
}
