import * as ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnx } from '../onnx/reader.js';
import { FLOAT_NODES_KEY } from './quantize.js';

/** Ops that compute with integer arithmetic after onnxruntime's QDQ fusion. */
const INTEGER_OPS = new Set(['QLinearConv', 'QGemm', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger', 'MatMulIntegerToFloat',
  'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'QLinearAveragePool', 'QLinearConcat', 'QLinearSigmoid',
  'QLinearLeakyRelu', 'QLinearSoftmax', 'NhwcQLinearConv', 'DynamicQuantizeMatMul']);
/** Float compute ops that must not survive in a quantized model (any domain: nchwc and contrib variants too). */
const FLOAT_COMPUTE = new Set(['Conv', 'FusedConv', 'Gemm', 'FusedGemm', 'MatMul', 'FusedMatMul', 'ConvTranspose']);

export interface KernelCheck {
  /** true when at least one integer kernel runs and no float conv/gemm/matmul is left (but those the quantizer kept in float by design) */
  ok: boolean;
  /** op type -> count in onnxruntime's optimized graph (domain-qualified for non-default domains) */
  ops: Record<string, number>;
  integerNodes: number;
  floatComputeNodes: string[];
}

/**
 * Asks onnxruntime itself what it runs: it saves the graph after all optimizations (QDQ fusion included, for
 * this machine's CPU) and we count the ops. A QDQ model that ORT fails to fuse runs float convs on dequantized
 * weights: slower than fp32, which is the failure this catches.
 */
export async function checkIntegerKernels(model: Uint8Array): Promise<KernelCheck> {
  const dir = await mkdtemp(join(tmpdir(), 'edgefit-ortopt-'));
  const path = join(dir, 'optimized.onnx');
  try {
    const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', optimizedModelFilePath: path });
    await s.release();
    const opt = readOnnx(await readFile(path), 'onnxruntime optimized model');
    // the quantizer's float classifier (QuantizeOptions.floatClassifier) is float on purpose
    const md = readOnnx(model, 'quantized model').metadataProps ?? [];
    const byDesign = new Set((md.find((p) => p.key === FLOAT_NODES_KEY)?.value ?? '').split(',').filter(Boolean));
    const ops: Record<string, number> = {};
    let integerNodes = 0;
    const floatComputeNodes: string[] = [];
    for (const n of opt.graph!.node ?? []) {
      const key = n.domain ? `${n.domain}.${n.opType}` : n.opType!;
      ops[key] = (ops[key] ?? 0) + 1;
      if (INTEGER_OPS.has(n.opType!)) integerNodes++;
      if (FLOAT_COMPUTE.has(n.opType!) && !byDesign.has(n.name ?? '')) floatComputeNodes.push(`${key} ${n.name}`);
    }
    return { ok: integerNodes > 0 && floatComputeNodes.length === 0, ops, integerNodes, floatComputeNodes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
