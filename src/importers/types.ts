import type { ModelCard } from '../types/model.js';

export type { ModelCard } from '../types/model.js';

export interface ImportResult {
  onnx: Uint8Array;
  card: ModelCard;
}
