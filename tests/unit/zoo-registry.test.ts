import { describe, it, expect } from 'vitest';
import { EdgefitError } from '../../src/util/errors.js';
import { FAMILIES, acceptedValues, buildGraph, resolveOptions, variantId, zooFallback, zooLadder, type BuildOptions } from '../../src/zoo/registry.js';
import { FAMILY_SPECS } from '../../src/zoo/families.js';
import { zeroWeights } from '../../src/zoo/init.js';
import { inferShapes, type Family, type Layer } from '../../src/zoo/graph.js';

const build = (o: BuildOptions) => buildGraph({ ...o, weights: zeroWeights });

function refusal(o: BuildOptions): EdgefitError {
  try {
    build(o);
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefitError);
    const e = err as EdgefitError;
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error(`expected ${JSON.stringify(o)} to be refused`);
}

describe('zoo registry', () => {
  it('reads every family from its one spec in the table: names, accepted values, ladder, id tags, fallback', () => {
    expect(FAMILIES).toEqual(['mobilenet_v1', 'mobilenet_v2', 'shufflenet_v1', 'squeezenet', 'xception']);
    expect(zooLadder()).toEqual(FAMILY_SPECS.flatMap((f) => f.ladder));
    for (const f of FAMILY_SPECS) {
      expect(acceptedValues(f.family)).toBe(f.accepted);
      for (const rung of f.ladder) {
        expect(rung.family).toBe(f.family);
        // a spec's ladder only holds what the spec accepts
        expect(() => resolveOptions(rung)).not.toThrow();
        for (const t of f.idTags ?? []) expect(variantId(rung)).toContain(`-${t.prefix}${String(resolveOptions(rung).options[t.option])}`);
      }
    }
    expect(FAMILY_SPECS.filter((f) => f.fallback)).toHaveLength(1);
    expect(zooFallback()).toEqual({ family: 'mobilenet_v1', alphas: [0.25, 0.5, 0.75, 1.0], resolutions: [128, 160, 192, 224], options: { softmax: true } });
    // the ladder handed out is a copy: a caller cannot change the table
    zooLadder()[0]!.resolution = 1;
    expect(FAMILY_SPECS[0]!.ladder[0]!.resolution).toBe(128);
  });

  it('builds every family at two resolutions; shapes infer to [classes]; BN present', () => {
    const resolutions: Record<Family, [number, number]> = {
      mobilenet_v1: [128, 224], mobilenet_v2: [96, 160], shufflenet_v1: [160, 224], squeezenet: [113, 224], xception: [150, 299],
    };
    for (const family of FAMILIES) {
      for (const resolution of resolutions[family]) {
        const g = build({ family, resolution, classes: 10 });
        const shapes = inferShapes(g);
        expect([family, shapes.get(g.output)]).toEqual([family, [10]]);
        expect(shapes.get(g.input.name)).toEqual([3, resolution, resolution]);
        expect(g.layers.some((l) => l.op === 'bn')).toBe(true);
        expect(g.meta).toMatchObject({ family, resolution, classes: 10 });
        // every parameter belongs to a layer and layer names are unique
        const names = new Set(g.layers.map((l) => l.name));
        expect(names.size).toBe(g.layers.length);
        for (const key of g.params.keys()) expect(names.has(key.slice(0, key.lastIndexOf('.')))).toBe(true);
      }
    }
  });

  it('refuses too-small resolutions with a message naming the minimum, and builds at the minimum', () => {
    for (const family of FAMILIES) {
      const { min } = acceptedValues(family).resolution;
      expect(inferShapes(build({ family, resolution: min })).get('input')).toEqual([3, min, min]);
      const e = refusal({ family, resolution: min - 1 });
      expect(e.code).toBe('E_ZOO_RESOLUTION');
      expect(e.message).toContain(`from ${min} to`);
      expect(e.message).toContain('too small');
    }
    // the SqueezeNet minimum is structural: one pixel less and the last 3x3 pool no longer fits
    const e = refusal({ family: 'squeezenet', resolution: 25, options: { version: '1.0' } });
    expect(e.message).toMatch(/too small/);
  });

  it('names accepted values for a bad family, alpha, resolution, option, activation, classes', () => {
    expect(refusal({ family: 'resnet50' as Family, resolution: 224 }).message)
      .toBe('unknown model family "resnet50": use one of mobilenet_v1, mobilenet_v2, shufflenet_v1, squeezenet, xception');
    expect(refusal({ family: 'mobilenet_v1', alpha: 0.3, resolution: 224 }).message)
      .toBe('mobilenet_v1 does not accept alpha 0.3: use one of 0.25, 0.5, 0.75, 1.0');
    expect(refusal({ family: 'mobilenet_v2', alpha: 2, resolution: 224 }).message).toContain('0.35, 0.5, 0.75, 1.0, 1.3, 1.4');
    expect(refusal({ family: 'xception', alpha: 0.5, resolution: 299 }).message).toContain('use one of 1.0');
    expect(refusal({ family: 'mobilenet_v1', resolution: 224.5 }).message).toContain('integer from 32 to');
    expect(refusal({ family: 'mobilenet_v1', resolution: 99999 }).code).toBe('E_ZOO_RESOLUTION');
    expect(refusal({ family: 'shufflenet_v1', resolution: 224, options: { groups: 5 } }).message)
      .toBe('shufflenet_v1 option groups does not accept 5: use one of 1, 2, 3, 4, 8');
    expect(refusal({ family: 'squeezenet', resolution: 224, options: { version: '1.2' } }).message).toContain('use one of 1.0, 1.1');
    expect(refusal({ family: 'squeezenet', resolution: 224, options: { groups: 3 } }).message).toContain('has no option "groups": use version, softmax');
    expect(refusal({ family: 'mobilenet_v1', resolution: 224, activation: 'gelu' as 'relu' }).message).toContain('use one of relu6, relu');
    expect(refusal({ family: 'mobilenet_v1', resolution: 224, classes: 0 }).code).toBe('E_ZOO_CLASSES');
    expect(refusal({ family: 'mobilenet_v1', resolution: 224, seed: -1 }).code).toBe('E_ZOO_SEED');
  });

  it('coerces CLI strings for options and fills defaults', () => {
    const o = resolveOptions({ family: 'shufflenet_v1', resolution: 224, options: { groups: '8', softmax: 'true' } });
    expect(o.options).toEqual({ groups: 8, softmax: true });
    expect(resolveOptions({ family: 'squeezenet', resolution: 224, options: { version: 1.1 } }).options['version']).toBe('1.1');
    expect(resolveOptions({ family: 'squeezenet', resolution: 224, options: { version: '1' } }).options['version']).toBe('1.0');
    const d = resolveOptions({ family: 'mobilenet_v2', resolution: 224 });
    expect([d.alpha, d.classes, d.activation, d.seed]).toEqual([1, 1000, 'relu6', 0]);
    expect(resolveOptions({ family: 'xception', resolution: 299 }).activation).toBe('relu');
  });

  it('selects the activation per model and honours the classifier option', () => {
    const ops = (layers: Layer[]) => new Set(layers.map((l) => l.op));
    expect(ops(build({ family: 'mobilenet_v1', resolution: 128 }).layers).has('relu6')).toBe(true);
    const relu = build({ family: 'mobilenet_v1', resolution: 128, activation: 'relu' });
    expect(ops(relu.layers).has('relu6')).toBe(false);
    expect(ops(relu.layers).has('relu')).toBe(true);
    expect(ops(build({ family: 'shufflenet_v1', resolution: 128 }).layers).has('relu6')).toBe(false);
    const conv = build({ family: 'mobilenet_v1', resolution: 128 });
    expect(conv.layers.find((l) => l.name === 'classifier')).toMatchObject({ op: 'conv', kernel: [1, 1], bias: true });
    const dense = build({ family: 'mobilenet_v1', resolution: 128, options: { classifier: 'dense', softmax: true } });
    expect(dense.layers.find((l) => l.name === 'classifier')).toMatchObject({ op: 'dense', units: 1000 });
    expect(dense.layers.at(-1)!.op).toBe('softmax');
    // same weights either way: the 1x1 conv's [1000, 1024, 1, 1] and the dense [1000, 1024] hold the same numbers
    expect(conv.params.get('classifier.weight')!.shape).toEqual([1000, 1024, 1, 1]);
    expect(dense.params.get('classifier.weight')!.shape).toEqual([1000, 1024]);
  });

  it('uses the documented MobileNet-v1 layer names (the Keras importer maps onto them)', () => {
    const g = build({ family: 'mobilenet_v1', alpha: 0.25, resolution: 128 });
    const keys = [...g.params.keys()];
    expect(keys.slice(0, 5)).toEqual(['conv1.weight', 'conv1.bn.gamma', 'conv1.bn.beta', 'conv1.bn.mean', 'conv1.bn.var']);
    expect(g.params.get('conv1.weight')!.shape).toEqual([8, 3, 3, 3]);
    expect(g.params.get('block1.dw.weight')!.shape).toEqual([8, 1, 3, 3]);
    expect(g.params.get('block1.pw.weight')!.shape).toEqual([16, 8, 1, 1]);
    expect(g.params.get('block13.pw.bn.var')!.shape).toEqual([256]);
    expect(g.params.get('classifier.bias')!.shape).toEqual([1000]);
    expect(g.layers.filter((l) => l.op === 'conv' && l.stride[0] === 2).map((l) => l.name)).toEqual(['conv1', 'block2.dw', 'block4.dw', 'block6.dw', 'block12.dw']);
  });

  it('the ladder is valid, ids are unique and stable', () => {
    const ladder = zooLadder();
    expect(ladder.filter((o) => o.family === 'mobilenet_v1')).toHaveLength(16);
    expect(ladder.filter((o) => o.family === 'mobilenet_v2')).toHaveLength(30);
    for (const f of FAMILIES) expect(ladder.some((o) => o.family === f)).toBe(true);
    const ids = ladder.map((o) => variantId(o));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('mobilenet_v1-0.5-160');
    expect(ids).toContain('mobilenet_v1-1.0-224');
    expect(ids).toContain('shufflenet_v1-1.0-224-g3');
    expect(ids).toContain('squeezenet-1.0-224-v1.1');
    for (const id of ids) expect(id).toMatch(/^[a-z0-9_.=-]+$/);
    expect(variantId({ family: 'mobilenet_v2', alpha: 1.4, resolution: 96, classes: 10, activation: 'relu', options: { softmax: true } }))
      .toBe('mobilenet_v2-1.4-96-softmax-relu-c10');
  });
});

describe('family structure', () => {
  it('MobileNet-v2: linear projections, residual adds only where stride 1 and channels match', () => {
    const g = build({ family: 'mobilenet_v2', resolution: 96 });
    const shapes = inferShapes(g);
    const readers = (t: string) => g.layers.filter((l) => l.inputs.includes(t));
    for (const l of g.layers.filter((x) => x.name.endsWith('.project.bn'))) {
      // nothing but the add or the next block reads the projection: no activation after it
      for (const r of readers(l.output)) expect(['add', 'conv']).toContain(r.op);
    }
    const adds = g.layers.filter((l) => l.op === 'add').map((l) => l.name);
    // table 2: repeats 1,2,3,4,3,3,1 give 0+1+2+3+2+2+0 = 10 residual blocks
    expect(adds).toEqual(['block2.add', 'block4.add', 'block5.add', 'block7.add', 'block8.add', 'block9.add', 'block11.add', 'block12.add', 'block14.add', 'block15.add']);
    expect(g.params.has('block0.expand.weight')).toBe(false);
    expect(g.params.get('block1.expand.weight')!.shape).toEqual([96, 16, 1, 1]);
    expect(shapes.get('conv_last.act')).toEqual([1280, 3, 3]);
  });

  it('MobileNet-v2 widths follow make_divisible(c * alpha, 8)', () => {
    const g = build({ family: 'mobilenet_v2', alpha: 0.35, resolution: 96 });
    const outs = g.layers.filter((l) => l.op === 'conv' && l.name.endsWith('.project')).map((l) => (l as { outChannels: number }).outChannels);
    // 16*0.35=5.6->8, 24->8, 32->16 (11.2), 64->24 (22.4), 96->32 (33.6), 160->56, 320->112
    expect([...new Set(outs)]).toEqual([8, 16, 24, 32, 56, 112]);
    expect(g.params.get('conv1.weight')!.shape[0]).toBe(16);
  });

  it('ShuffleNet: grouped 1x1 convs, shuffles, concat units with avg-pool shortcut, ungrouped first conv', () => {
    const g = build({ family: 'shufflenet_v1', resolution: 224, options: { groups: 3 } });
    const shapes = inferShapes(g);
    const layer = (n: string) => g.layers.find((l) => l.name === n)!;
    expect(layer('stage2.unit1.gconv1')).toMatchObject({ group: 1, outChannels: 60 });
    expect(layer('stage2.unit2.gconv1')).toMatchObject({ group: 3, outChannels: 60 });
    expect(layer('stage2.unit2.shuffle')).toMatchObject({ op: 'shuffle', groups: 3 });
    expect(layer('stage2.unit1.gconv2')).toMatchObject({ group: 3, outChannels: 240 - 24 });
    expect(layer('stage2.unit1.shortcut')).toMatchObject({ op: 'avgpool', kernel: [3, 3], stride: [2, 2] });
    expect(shapes.get('stage2.unit1.concat')).toEqual([240, 28, 28]);
    expect(shapes.get('stage3.unit8.act')).toEqual([480, 14, 14]);
    expect(shapes.get('stage4.unit4.act')).toEqual([960, 7, 7]);
    expect(g.layers.filter((l) => l.op === 'add')).toHaveLength(3 + 7 + 3);
    // no activation after the depthwise conv (the paper's figure 2)
    expect(g.layers.some((l) => l.name === 'stage2.unit2.dw.act')).toBe(false);
  });

  it('SqueezeNet: fire modules concatenate 1x1 and 3x3 expands; 1.1 pools earlier', () => {
    const g = build({ family: 'squeezenet', resolution: 224 });
    const s = inferShapes(g);
    expect(s.get('conv1.act')).toEqual([96, 109, 109]);
    expect(s.get('pool1')).toEqual([96, 54, 54]);
    expect(s.get('fire2.concat')).toEqual([128, 54, 54]);
    expect(s.get('fire9.concat')).toEqual([512, 13, 13]);
    const g11 = build({ family: 'squeezenet', resolution: 224, options: { version: '1.1' } });
    const s11 = inferShapes(g11);
    expect(s11.get('conv1.act')).toEqual([64, 111, 111]);
    expect(s11.get('fire9.concat')).toEqual([512, 13, 13]);
    expect(g11.layers.filter((l) => l.op === 'maxpool').map((l) => l.name)).toEqual(['pool1', 'pool3', 'pool5']);
  });

  it('Xception: 299 -> 10x10x2048; separable order option changes where the depthwise conv runs', () => {
    const g = build({ family: 'xception', resolution: 299 });
    const s = inferShapes(g);
    expect(s.get('conv1.act')).toEqual([32, 149, 149]);
    expect(s.get('conv2.act')).toEqual([64, 147, 147]);
    expect(s.get('block4.add')).toEqual([728, 19, 19]);
    expect(s.get('block14.sep2.act')).toEqual([2048, 10, 10]);
    expect(g.layers.filter((l) => l.op === 'add')).toHaveLength(12);
    // no BN/activation between depthwise and pointwise
    expect(g.layers.some((l) => l.name === 'block5.sep1.dw.bn')).toBe(false);
    const pf = build({ family: 'xception', resolution: 150, options: { separable_order: 'pointwise-first' } });
    // pointwise first: the depthwise conv runs on the output channels
    expect(pf.params.get('block2.sep1.pw.weight')!.shape).toEqual([128, 64, 1, 1]);
    expect(pf.params.get('block2.sep1.dw.weight')!.shape).toEqual([128, 1, 3, 3]);
    expect(pf.layers.find((l) => l.name === 'block2.sep1.dw.bn')).toBeDefined();
  });
});
