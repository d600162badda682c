import type { ConvInput } from './tflite/emit.js';
import type { ModelCard } from '../types/model.js';

export type { ModelCard } from '../types/model.js';

export interface ImportResult {
  onnx: Uint8Array;
  card: ModelCard;
  /** TFLite imports: each integer conv's input tensor (for the requantized weight form's bias correction) */
  convInputs?: ConvInput[];
}
