import { readOnnx, dimsOf } from './reader.js';
import type { ValueInfoProto } from './proto.js';

export interface OnnxIO {
  name: string;
  /** ONNX TensorProto.DataType number (1 float, 2 uint8, ...) */
  elemType: number;
  /** fixed dims as numbers, symbolic dims as their names, unknown as '?' */
  shape: (number | string)[];
}

export interface OnnxDescription {
  inputs: OnnxIO[];
  outputs: OnnxIO[];
  /** node count per op type ("domain::Op" for non-default domains), keys sorted */
  opCounts: Record<string, number>;
  /** bytes of initializer data (raw or typed fields) */
  initializerBytes: number;
  opset: number;
  metadata: Record<string, string>;
}

const ELEM_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

/** A summary of an ONNX file: what it takes, what it gives, what it is made of. */
export function describeOnnx(bytes: Uint8Array, source = 'model'): OnnxDescription {
  const m = readOnnx(bytes, source);
  const g = m.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const io = (v: ValueInfoProto): OnnxIO => ({
    name: v.name ?? '',
    elemType: v.type?.tensorType?.elemType ?? 0,
    shape: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? Number(d.dimValue) : '?')),
  });
  const counts = new Map<string, number>();
  for (const n of g.node ?? []) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : String(n.opType);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let initializerBytes = 0;
  for (const t of g.initializer ?? []) {
    if (t.rawData && t.rawData.length > 0) { initializerBytes += t.rawData.length; continue; }
    const n = dimsOf(t).reduce((a, b) => a * b, 1);
    initializerBytes += n * (ELEM_BYTES[t.dataType ?? 1] ?? 4);
  }
  const opsetEntry = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    // graph inputs that are also initializers are constants (old exporters list them), not model inputs
    inputs: (g.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(io),
    outputs: (g.output ?? []).map(io),
    opCounts: Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1))),
    initializerBytes,
    opset: opsetEntry ? Number(opsetEntry.version) : 0,
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}
