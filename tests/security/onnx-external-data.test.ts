import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Long from 'long';
import type { onnx as O } from 'onnx-proto';
import { importModel } from '../../src/importers/index.js';
import { quantizeFile } from '../../src/quant/file.js';
import { variantsFromModelsDir } from '../../src/profile/models-dir.js';
import { OnnxBuilder, makeTensor, valueInfo } from '../../src/onnx/builder.js';
import { DataType, onnx, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../../src/onnx/proto.js';
import { findExternalTensor } from '../../src/onnx/external-data.js';
import { EdgefitError } from '../../src/util/errors.js';
import { sharedData } from '../../src/util/paths.js';

/**
 * A TensorProto whose data lives in another file makes onnxruntime read a path the model names. edgefit refused
 * it only among the main graph's initializers; every other place a TensorProto can sit got through to
 * onnxruntime. One small model per place, each refused with E_ONNX_EXTERNAL (the check that runs before
 * onnxruntime is given the model; onnxruntime's own failure would be E_ONNX_LOAD), naming where it sits.
 */
const T = onnx.AttributeProto.AttributeType;
const LOCATION = '../../etc/passwd';

/** A float tensor with its data moved out: data_location EXTERNAL and/or the external_data entries. */
function external(name: string, how: 'both' | 'entries' | 'flag'): TensorProto {
  const t = makeTensor(name, [2], new Float32Array([1, 2]));
  t.rawData = new Uint8Array();
  if (how !== 'entries') t.dataLocation = 1;
  if (how !== 'flag') t.externalData = [{ key: 'location', value: LOCATION }, { key: 'offset', value: '0' }, { key: 'length', value: '8' }];
  return t;
}

function constant(name: string, attr: AttributeProto): NodeProto {
  return { opType: 'Constant', name, input: [], output: [`${name}_out`], attribute: [attr] };
}

function sparse(values: TensorProto, indices?: TensorProto): O.ISparseTensorProto {
  return { values, indices: indices ?? makeTensor('idx', [2], new BigInt64Array([0n, 3n])), dims: [Long.fromNumber(4)] };
}

/** A graph of one Add (x + c), `c` coming from wherever the case puts it. */
function graph(name: string, extra: { nodes?: NodeProto[]; initializer?: TensorProto[]; sparseInitializer?: O.ISparseTensorProto[] } = {}): GraphProto {
  return {
    name,
    node: [...(extra.nodes ?? []), { opType: 'Identity', name: `${name}_id`, input: ['x'], output: ['y'] }],
    initializer: extra.initializer ?? [],
    sparseInitializer: extra.sparseInitializer ?? [],
    input: [valueInfo({ name: 'x', elemType: DataType.FLOAT, shape: [2] })],
    output: [valueInfo({ name: 'y', elemType: DataType.FLOAT, shape: [2] })],
  };
}

function model(g: GraphProto, more: Partial<ModelProto> = {}): ModelProto {
  const b = new OnnxBuilder('m');
  return { ...b.toModel(), graph: g, ...more };
}

const bytesOf = (m: ModelProto) => onnx.ModelProto.encode(m).finish();

/** FunctionProto.attribute_proto (field 11, ONNX 1.13) is unknown to onnx-proto: appended as raw protobuf */
function withFunctionAttributeDefault(fn: O.IFunctionProto, attr: AttributeProto): Uint8Array {
  const varint = (v: number): number[] => (v < 0x80 ? [v] : [(v & 0x7f) | 0x80, ...varint(Math.floor(v / 128))]);
  const field = (n: number, body: Uint8Array) => Buffer.concat([Buffer.from([...varint((n << 3) | 2), ...varint(body.length)]), body]);
  const fnBytes = Buffer.concat([onnx.FunctionProto.encode(fn).finish(), field(11, onnx.AttributeProto.encode(attr).finish())]);
  const base = bytesOf(model(graph('main'), { opsetImport: [{ domain: '', version: Long.fromNumber(13) }, { domain: 'local', version: Long.fromNumber(1) }] }));
  return Buffer.concat([base, field(25, fnBytes)]);
}

function subgraphNode(op: 'If' | 'Loop' | 'Scan', attr: string, body: GraphProto): NodeProto {
  return { opType: op, name: `${op.toLowerCase()}1`, input: op === 'If' ? ['cond'] : [], output: ['z'], attribute: [{ name: attr, type: T.GRAPH, g: body }] };
}

type Case = [what: string, bytes: (how: 'both' | 'entries' | 'flag') => Uint8Array, where: RegExp];
const cases: Case[] = [
  ['graph initializer', (h) => bytesOf(model(graph('main', { initializer: [external('w', h)] }))), /^initializer "w"$/],
  ['sparse initializer values', (h) => bytesOf(model(graph('main', { sparseInitializer: [sparse(external('s', h))] }))), /^sparse initializer > values "s"$/],
  ['sparse initializer indices', (h) => bytesOf(model(graph('main', { sparseInitializer: [sparse(makeTensor('s', [2], new Float32Array([1, 2])), { ...external('i', h), dataType: DataType.INT64 })] }))), /^sparse initializer > indices "i"$/],
  ['Constant value (attribute t)', (h) => bytesOf(model(graph('main', { nodes: [constant('c', { name: 'value', type: T.TENSOR, t: external('w', h) })] }))), /^node "c" \(Constant\) > attribute value > tensor "w"$/],
  ['Constant sparse_value (attribute sparse_tensor)', (h) => bytesOf(model(graph('main', { nodes: [constant('c', { name: 'sparse_value', type: T.SPARSE_TENSOR, sparseTensor: sparse(external('w', h)) })] }))), /^node "c" \(Constant\) > attribute sparse_value > sparse_tensor > values "w"$/],
  ['attribute tensors (a list)', (h) => bytesOf(model(graph('main', { nodes: [{ opType: 'Custom', domain: 'x', name: 'n', input: [], output: ['o'], attribute: [{ name: 'ts', type: T.TENSORS, tensors: [makeTensor('ok', [1], new Float32Array([1])), external('w', h)] }] }] }))), /^node "n" \(Custom\) > attribute ts > tensors\[1\] "w"$/],
  ['attribute sparse_tensors (a list)', (h) => bytesOf(model(graph('main', { nodes: [{ opType: 'Custom', domain: 'x', name: 'n', input: [], output: ['o'], attribute: [{ name: 'sts', type: T.SPARSE_TENSORS, sparseTensors: [sparse(external('w', h))] }] }] }))), /^node "n" \(Custom\) > attribute sts > sparse_tensors\[0\] > values "w"$/],
  ['If then_branch initializer', (h) => bytesOf(model(graph('main', { nodes: [subgraphNode('If', 'then_branch', graph('then', { initializer: [external('w', h)] }))] }))), /^node "if1" \(If\) > attribute then_branch > initializer "w"$/],
  ['If else_branch > Loop body > Constant (two levels down)', (h) => bytesOf(model(graph('main', { nodes: [subgraphNode('If', 'else_branch', graph('else', { nodes: [subgraphNode('Loop', 'body', graph('body', { nodes: [constant('deep', { name: 'value', type: T.TENSOR, t: external('w', h) })] }))] }))] }))), /^node "if1" \(If\) > attribute else_branch > node "loop1" \(Loop\) > attribute body > node "deep" \(Constant\) > attribute value > tensor "w"$/],
  ['Loop body initializer', (h) => bytesOf(model(graph('main', { nodes: [subgraphNode('Loop', 'body', graph('body', { initializer: [external('w', h)] }))] }))), /^node "loop1" \(Loop\) > attribute body > initializer "w"$/],
  ['Scan body Constant', (h) => bytesOf(model(graph('main', { nodes: [subgraphNode('Scan', 'body', graph('body', { nodes: [constant('c', { name: 'value', type: T.TENSOR, t: external('w', h) })] }))] }))), /^node "scan1" \(Scan\) > attribute body > node "c" \(Constant\) > attribute value > tensor "w"$/],
  ['attribute graphs (a list)', (h) => bytesOf(model(graph('main', { nodes: [{ opType: 'Custom', domain: 'x', name: 'n', input: [], output: ['o'], attribute: [{ name: 'gs', type: T.GRAPHS, graphs: [graph('ok'), graph('bad', { initializer: [external('w', h)] })] }] }] }))), /^node "n" \(Custom\) > attribute gs > graphs\[1\] > initializer "w"$/],
  ['model-local function: a Constant among its nodes', (h) => bytesOf(model(graph('main'), {
    opsetImport: [{ domain: '', version: Long.fromNumber(13) }, { domain: 'local', version: Long.fromNumber(1) }],
    functions: [{ name: 'f', domain: 'local', input: ['a'], output: ['b'], opsetImport: [{ domain: '', version: Long.fromNumber(13) }], node: [constant('fc', { name: 'value', type: T.TENSOR, t: external('w', h) })] }],
  })), /^function "f" > node "fc" \(Constant\) > attribute value > tensor "w"$/],
  ['model-local function: the default of one of its attributes (attribute_proto, ONNX 1.13, unknown to onnx-proto)', (h) => withFunctionAttributeDefault(
    { name: 'f', domain: 'local', input: ['a'], output: ['b'], opsetImport: [{ domain: '', version: Long.fromNumber(13) }], node: [] },
    { name: 'k', type: T.TENSOR, t: external('w', h) },
  ), /^function "f" > default of attribute "k" > tensor "w"$/],
  ['training_info initialization graph', (h) => bytesOf(model(graph('main'), { trainingInfo: [{ initialization: graph('init', { initializer: [external('w', h)] }) }] })), /^training_info\[0\] > initialization graph > initializer "w"$/],
];

describe('a tensor with external data is refused wherever it sits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-ext-'));

  it.each(cases)('%s: E_ONNX_EXTERNAL at import, naming the place and the file', async (what, bytesFor, where) => {
    for (const how of ['both', 'entries', 'flag'] as const) {
      const p = join(dir, `${what.replace(/\W+/g, '_')}-${how}.onnx`);
      writeFileSync(p, bytesFor(how));
      const err = await importModel(p).catch((x: unknown) => x);
      expect(err, `${how}: ${String(err)}`).toBeInstanceOf(EdgefitError);
      expect((err as EdgefitError).code, `${how}: ${(err as Error).message}`).toBe('E_ONNX_EXTERNAL');
      const msg = (err as Error).message;
      expect(msg).toContain(p);
      expect(msg).toMatch(/self-contained/);
      if (how !== 'flag') expect(msg).toContain(`(${LOCATION})`);
      expect(findExternalTensor(bytesFor(how))!.where.join(' > ')).toMatch(where);
    }
  });

  it.each(cases)('%s: the same structure with its data inline is not refused (no false alarm)', (_what, bytesFor) => {
    // the flag-only variant with the flag cleared: data_location DEFAULT and no entries
    const m = onnx.ModelProto.decode(bytesFor('flag'));
    const clear = (t: TensorProto | null | undefined) => { if (t) { t.dataLocation = 0; t.rawData = new Uint8Array(8); } };
    const walkGraph = (g: GraphProto | null | undefined): void => {
      if (!g) return;
      for (const t of g.initializer ?? []) clear(t);
      for (const s of g.sparseInitializer ?? []) { clear(s.values); clear(s.indices); }
      for (const n of g.node ?? []) walkNodeAttrs(n);
    };
    const walkNodeAttrs = (n: NodeProto): void => {
      for (const a of n.attribute ?? []) {
        clear(a.t);
        for (const t of a.tensors ?? []) clear(t);
        if (a.sparseTensor) { clear(a.sparseTensor.values); clear(a.sparseTensor.indices); }
        for (const s of a.sparseTensors ?? []) { clear(s.values); clear(s.indices); }
        walkGraph(a.g);
        for (const g of a.graphs ?? []) walkGraph(g);
      }
    };
    walkGraph(m.graph);
    for (const f of m.functions ?? []) for (const n of f.node ?? []) walkNodeAttrs(n);
    for (const ti of m.trainingInfo ?? []) { walkGraph(ti.initialization); walkGraph(ti.algorithm); }
    // (the attribute_proto case cannot round-trip through onnx-proto: it drops the field, which is the point)
    expect(findExternalTensor(onnx.ModelProto.encode(m).finish())).toBeUndefined();
  });

  it('the other doors to onnxruntime refuse it too: `quantize MODEL` and `profile/select --models DIR`', async () => {
    const bytes = cases.find((c) => c[0].startsWith('Constant value'))![1]('both');
    const d = mkdtempSync(join(tmpdir(), 'edgefit-ext-doors-'));
    const p = join(d, 'm.onnx');
    writeFileSync(p, bytes);
    writeFileSync(join(d, 'm.card.json'), JSON.stringify({ name: 'm', precision: 'fp32', input: { layout: 'NHWC', dtype: 'uint8' }, resolution: 8, classes: 2 }));
    for (const attempt of [() => quantizeFile(p, { calibDir: d, method: 'minmax', weights: 8 }), () => variantsFromModelsDir(d)]) {
      const err = await attempt().catch((x: unknown) => x);
      expect((err as EdgefitError).code, String(err)).toBe('E_ONNX_EXTERNAL');
      expect((err as Error).message).toContain(`(${LOCATION})`);
    }
  });

  it('real models, converted by edgefit, have no external tensor', async () => {
    const r = await importModel(join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite'));
    expect(findExternalTensor(r.onnx)).toBeUndefined();
  });

  it('a malformed or absurdly nested file is refused as unreadable, not walked for ever', () => {
    expect(() => findExternalTensor(new Uint8Array([0x3a, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/not a readable ONNX model/);
    // graph > node > attribute g > graph > node > … 200 levels deep
    let g: GraphProto = graph('leaf');
    for (let i = 0; i < 200; i++) g = { name: `g${i}`, node: [{ opType: 'If', name: `n${i}`, attribute: [{ name: 'then_branch', type: T.GRAPH, g }] }] };
    expect(() => findExternalTensor(bytesOf(model(g)))).toThrow(/nested more than/);
  });
});
