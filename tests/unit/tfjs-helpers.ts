// Test-only: logits of one frame from onnxruntime (via emitOnnx) and from the TensorFlow.js engine.
import { expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { emitOnnx } from '../../src/onnx/emit.js';
import { TfjsEngine } from '../../src/engine/tfjs/engine.js';
import type { Graph } from '../../src/zoo/graph.js';

export async function ortLogits(g: Graph, frame: Uint8Array, res: [number, number]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(emitOnnx(g, { output: 'logits' }));
  try {
    const out = await s.run({ pixels: new ort.Tensor('uint8', frame, [1, res[0], res[1], 3]) });
    return Float32Array.from(out.logits!.data as Float32Array);
  } finally {
    await s.release();
  }
}

/** BN unfolded by default: tfjs BatchNormalization against the folded convs of the ONNX side */
export async function tfjsLogits(g: Graph, frame: Uint8Array, foldBn = false): Promise<Float32Array> {
  const e = await TfjsEngine.load(g, { output: 'logits', foldBn });
  try {
    expect(['tfjs-node', 'tfjs-wasm']).toContain(e.provider);
    return Float32Array.from((await e.run(frame)).scores);
  } finally {
    await e.close();
  }
}
