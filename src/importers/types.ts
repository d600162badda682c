import type { InputFormat, Precision } from '../catalog/types.js';
import type { Family } from '../zoo/graph.js';

/** What an importer knows about a model; written beside the .onnx as `<name>.card.json`. */
export interface ModelCard {
  name: string;
  family?: Family;
  alpha?: number;
  /** native input resolution; imported GAP models also run at other resolutions */
  resolution?: number;
  /** true when the model accepts any H, W (global average pooling, symbolic dims) */
  anyResolution: boolean;
  precision: Precision;
  input: InputFormat;
  /** output is probabilities (softmax inside) or logits */
  output: 'probabilities' | 'logits';
  classes: number;
  /** first class is "background" (TFLite ImageNet models: 1001 classes) */
  background: boolean;
  labels?: string[];
  source: { format: 'tflite' | 'keras' | 'onnx' | 'zoo'; file: string; sha256: string };
  /** for quantized models: what was done, e.g. "tflite-qat-uint8", "ptq-percentile-w8" */
  quantization?: string;
}

export interface ImportResult {
  onnx: Uint8Array;
  card: ModelCard;
}
