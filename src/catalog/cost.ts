import { readFile } from 'node:fs/promises';
import type { Family } from '../types/model.js';
import { EdgefitError } from '../util/errors.js';
import { graphCost } from '../zoo/cost.js';
import type { WeightSource } from '../zoo/graph.js';
import { buildGraph } from '../zoo/registry.js';

// Costs need shapes, not values: every parameter is a view of one shared zero buffer, so counting a 3.5M-parameter
// network allocates nothing (seeded weights took 0.7 s and tens of MB per rung at every start).
let shared = new Float32Array(0);
const sharedZeros: WeightSource = (_name, shape) => {
  let n = 1;
  for (const d of shape) n *= d;
  if (shared.length < n) shared = new Float32Array(n);
  return shared.subarray(0, n);
};

export interface Cost {
  macs: number;
  params: number;
  /**
   * 'zoo' when counted on the zoo's graph of the same family/alpha/resolution, 'tflite' on the source file's own
   * graph (detectors, src/catalog/detector-cost.ts), 'onnx' when only params are known
   */
  from: 'zoo' | 'onnx' | 'tflite';
}

const memo = new Map<string, Cost>();

/** Parameters stored in an ONNX file (initializer elements, scales and zero points included). */
async function onnxParams(path: string): Promise<number> {
  // the ONNX parser (protobufjs, ~10 MB of RSS) only for a model the zoo cannot count
  const { readOnnx, dimsOf } = await import('../onnx/reader.js');
  const m = readOnnx(await readFile(path), path);
  let n = 0;
  for (const t of m.graph!.initializer ?? []) n += dimsOf(t).reduce((a, b) => a * b, 1);
  return n;
}

/**
 * MACs and parameters of one variant: the zoo's cost accounting for the same family, width and resolution
 * (the architectures match the published ones), else the file's parameter count with MACs unknown (0).
 */
export async function modelCost(family: Family, alpha: number, resolution: number, classes: number, onnxPath: string): Promise<Cost> {
  // the zoo's count depends on the architecture only; the file matters only when the zoo cannot count it
  const key = `${family}|${alpha}|${resolution}|${classes}`;
  const hit = memo.get(key) ?? memo.get(`${key}|${onnxPath}`);
  if (hit) return hit;
  let cost: Cost | undefined;
  try {
    const c = graphCost(buildGraph({ family, alpha, resolution, classes, weights: sharedZeros }));
    cost = { macs: c.macs.total, params: c.params, from: 'zoo' };
  } catch (err) {
    // only "the zoo cannot build this one" (a width or resolution outside its accepted values) falls back to
    // the file's count; anything else is a bug and surfaces
    if (!(err instanceof EdgefitError && err.code.startsWith('E_ZOO_'))) throw err;
  }
  if (!cost) {
    cost = { macs: 0, params: await onnxParams(onnxPath), from: 'onnx' };
    memo.set(`${key}|${onnxPath}`, cost);
    return cost;
  }
  memo.set(key, cost);
  return cost;
}
