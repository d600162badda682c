import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import type { Variant } from '../../src/catalog/types.js';

/**
 * A small conv net of a given width: uint8 NHWC pixels in, `depth` 3x3 convs of `width` channels, global average
 * pool, logits out. A set of widths is a family chain whose cost grows with width^2.
 */
export function convNet(width: number, resolution: number, depth = 3): { bytes: Uint8Array; macs: number; params: number } {
  const b = new OnnxBuilder(`convnet_w${width}`);
  const x = b.input('pixels', DataType.UINT8, [1, resolution, resolution, 3]);
  let t = b.op('Cast', [x], { to: DataType.FLOAT });
  t = b.op('Transpose', [t], { perm: [0, 3, 1, 2] });
  let cin = 3, macs = 0, params = 0;
  let s = 12345;
  const rand = () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff - 0.5; };
  for (let i = 0; i < depth; i++) {
    const w = new Float32Array(width * cin * 9).map(() => rand() * 0.1);
    const wn = b.initializer(`w${i}`, [width, cin, 3, 3], w);
    t = b.op('Conv', [t, wn], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    t = b.op('Relu', [t]);
    macs += 9 * cin * width * resolution * resolution;
    params += w.length;
    cin = width;
  }
  t = b.op('GlobalAveragePool', [t]);
  const y = b.op('Flatten', [t], {}, undefined, 'logits');
  b.output(y, DataType.FLOAT, [1, width]);
  return { bytes: b.toBytes(), macs, params };
}

export function writeVariant(dir: string, id: string, bytes: Uint8Array, o: Partial<Variant> = {}): Variant {
  const modelPath = join(dir, `${id}.onnx`);
  writeFileSync(modelPath, bytes);
  return {
    id,
    family: 'mobilenet_v1',
    alpha: 1,
    resolution: 32,
    precision: 'fp32',
    macs: 0,
    params: 0,
    modelPath,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    pretrained: false,
    input: { layout: 'NHWC', dtype: 'uint8' },
    source: 'test',
    ...o,
  };
}

export function convVariant(dir: string, width: number, resolution: number, o: Partial<Variant> = {}): Variant {
  const net = convNet(width, resolution);
  return writeVariant(dir, `convnet-w${width}-r${resolution}`, net.bytes, { resolution, macs: net.macs, params: net.params, ...o });
}
