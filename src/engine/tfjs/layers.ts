/**
 * The two layers TensorFlow.js lacks for the zoo graphs: grouped convolution (ShuffleNet's 1x1 group convs) and
 * pooling with explicit (possibly asymmetric) pads plus ONNX ceil_mode and count_include_pad=0, which 'same' and
 * 'valid' cannot express.
 */
import { tf } from './backend.js';
import { outSize } from '../../zoo/graph.js';

type Shape = (number | null)[];
type LayerVar = { read(): tf.Tensor };

export interface GroupedConvConfig {
  name: string;
  filters: number;
  kernel: [number, number];
  strides: [number, number];
  groups: number;
  useBias: boolean;
}

/** Conv2D with `groups`, 'valid' padding (pad with zeroPadding2d before it). Kernel [kh, kw, inC/groups, filters]. */
export class GroupedConv2D extends tf.layers.Layer {
  static readonly className = 'EdgefitGroupedConv2D';
  private kernel?: LayerVar;
  private bias?: LayerVar;

  constructor(private readonly cfg: GroupedConvConfig) {
    super({ name: cfg.name });
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = inputShape as Shape;
    const inC = s[3]!;
    if (inC % this.cfg.groups !== 0 || this.cfg.filters % this.cfg.groups !== 0) {
      throw new Error(`${this.cfg.name}: channels ${inC}->${this.cfg.filters} do not split into ${this.cfg.groups} groups`);
    }
    this.kernel = this.addWeight('kernel', [...this.cfg.kernel, inC / this.cfg.groups, this.cfg.filters], 'float32', tf.initializers.zeros());
    if (this.cfg.useBias) this.bias = this.addWeight('bias', [this.cfg.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    const [kh, kw] = this.cfg.kernel;
    const [sh, sw] = this.cfg.strides;
    return [s[0]!, outSize(s[1]!, kh, sh, 0, 0), outSize(s[2]!, kw, sw, 0, 0), this.cfg.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const xs = tf.split(x, this.cfg.groups, 3);
      const ks = tf.split(this.kernel!.read() as tf.Tensor4D, this.cfg.groups, 3);
      let y: tf.Tensor = tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ks[i] as tf.Tensor4D, this.cfg.strides, 'valid')), 3);
      if (this.bias) y = tf.add(y, this.bias.read());
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.cfg };
  }
}

export interface PoolConfig {
  name: string;
  op: 'maxpool' | 'avgpool';
  kernel: [number, number];
  strides: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  ceil: boolean;
}

// the most negative float32: padding for max pooling that never wins, without -Infinity arithmetic
const NEG = -3.4028234663852886e38;

/** Max/average pooling with ONNX semantics: explicit pads, ceil_mode, average over the real pixels only. */
export class ExplicitPool2D extends tf.layers.Layer {
  static readonly className = 'EdgefitExplicitPool2D';

  constructor(private readonly cfg: PoolConfig) {
    super({ name: cfg.name });
  }

  private geometry(h: number, w: number): { oh: number; ow: number; pad: [[number, number], [number, number]] } {
    const [kh, kw] = this.cfg.kernel;
    const [sh, sw] = this.cfg.strides;
    const [t, l, b, r] = this.cfg.pads;
    const oh = outSize(h, kh, sh, t, b, this.cfg.ceil);
    const ow = outSize(w, kw, sw, l, r, this.cfg.ceil);
    // ceil mode: extend the end padding so that a 'valid' pool yields the ceil-mode windows
    const eh = Math.max(0, (oh - 1) * sh + kh - (h + t + b));
    const ew = Math.max(0, (ow - 1) * sw + kw - (w + l + r));
    return { oh, ow, pad: [[t, b + eh], [l, r + ew]] };
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = inputShape as Shape;
    const { oh, ow } = this.geometry(s[1]!, s[2]!);
    return [s[0]!, oh, ow, s[3]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const [, h, w] = x.shape;
      const { pad } = this.geometry(h, w);
      const p4: [number, number][] = [[0, 0], pad[0], pad[1], [0, 0]];
      if (this.cfg.op === 'maxpool') return tf.maxPool(tf.pad(x, p4, NEG), this.cfg.kernel, this.cfg.strides, 'valid');
      // sum over real pixels / number of real pixels; both averages carry the same 1/(kh*kw), which cancels
      const sum = tf.avgPool(tf.pad(x, p4, 0), this.cfg.kernel, this.cfg.strides, 'valid');
      const count = tf.avgPool(tf.pad(tf.ones([1, h, w, 1]), p4, 0) as tf.Tensor4D, this.cfg.kernel, this.cfg.strides, 'valid');
      return tf.div(sum, count);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.cfg } as unknown as tf.serialization.ConfigDict;
  }
}

export interface FakeQuantConfig { name: string; scale: number; zeroPoint: number; qmin: number; qmax: number }

/** An int8/uint8 activation in float: (clamp(round(x / scale) + zp, qmin, qmax) - zp) * scale, round half to even as ONNX. */
export class FakeQuant2D extends tf.layers.Layer {
  static readonly className = 'EdgefitFakeQuant';

  constructor(private readonly cfg: FakeQuantConfig) {
    super({ name: cfg.name });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const { scale, zeroPoint: zp, qmin, qmax } = this.cfg;
      // tf.round rounds half to even, as QuantizeLinear does
      return tf.mul(tf.sub(tf.clipByValue(tf.add(tf.round(tf.div(x, scale)), zp), qmin, qmax), zp), scale);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.cfg };
  }
}

/** min(x, max): the top of a Clip(0, max) whose max is not ReLU6's 6 (its bottom is the relu layer before it) */
export class ClampMax extends tf.layers.Layer {
  static readonly className = 'EdgefitClampMax';

  constructor(private readonly cfg: { name: string; max: number }) {
    super({ name: cfg.name });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return inputShape as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.minimum(Array.isArray(inputs) ? inputs[0]! : inputs, this.cfg.max));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.cfg };
  }
}

tf.serialization.registerClass(ClampMax);
tf.serialization.registerClass(FakeQuant2D);
tf.serialization.registerClass(GroupedConv2D);
tf.serialization.registerClass(ExplicitPool2D);
