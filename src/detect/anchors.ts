import type { DetectionSpec, SsdAnchorSpec } from '../types/detection.js';
import { EdgefitError } from '../util/errors.js';

/**
 * SSD anchors with the semantics of the TF Object Detection API (`create_ssd_anchors` ->
 * `MultipleGridAnchorGenerator` -> `grid_anchor_generator.tile_anchors`), which is what TFLite SSD exports embed
 * as the third input of `TFLite_Detection_PostProcess` (and what MediaPipe's `SsdAnchorsCalculator` re-implements).
 *
 * Float arithmetic, in the order that reproduces the exported tensor bit for bit:
 * - the box scales are Python float64: `min + (max - min) * i / (numLayers - 1)`, the interpolated one
 *   `sqrt(scale * nextScale)` (the scale after the last layer is 1.0); the lowest reduced layer uses 0.1;
 * - everything after that is TensorFlow float32: `sqrt(ar)`, `height = scale / sqrt(ar) * baseHeight`,
 *   `width = scale * sqrt(ar) * baseWidth`, stride `1 / gridSize`, centre `i * stride + offset * stride`;
 * - the graph builds corner boxes (`centre -/+ 0.5 * size`) and the exporter turns them back into
 *   centre/size (`size = max - min`, `centre = min + size / 2`), so a float model's anchors carry that round trip.
 * The uint8 COCO SSD-MobileNet-v2 (anchors quantized with a step of 0.0065) is reproduced integer for integer by
 * this order, and equally by plain float64 or MediaPipe's float32 `(i + offset) / size`; the order above matters
 * only for a float model's anchors compared bit for bit (no float SSD file is in the test data to pin it).
 * Order: layer, then grid row, then grid column, then box (the layer's box specs in order) — the order the SSD
 * box predictors' outputs are reshaped and concatenated in.
 */

/** The standard SSD-MobileNet (v1, v2, SSDLite) anchor configuration of the TF OD API sample configs. */
export const STANDARD_SSD_ANCHORS: Readonly<SsdAnchorSpec> = Object.freeze({
  numLayers: 6,
  minScale: 0.2,
  maxScale: 0.95,
  aspectRatios: [1.0, 2.0, 0.5, 3.0, 1 / 3],
  reduceBoxesInLowestLayer: true,
  interpolatedScaleAspectRatio: 1.0,
  baseAnchorHeight: 1.0,
  baseAnchorWidth: 1.0,
  offset: 0.5,
});

/** The (scale, aspect ratio) pairs of each layer's boxes, float64 as Python computes them. */
export function ssdBoxSpecs(spec: SsdAnchorSpec): Array<Array<[scale: number, aspectRatio: number]>> {
  checkSpec(spec);
  const n = spec.numLayers;
  const scales: number[] = [];
  for (let i = 0; i < n; i++) scales.push(n === 1 ? spec.minScale : spec.minScale + ((spec.maxScale - spec.minScale) * i) / (n - 1));
  scales.push(1.0);
  const layers: Array<Array<[number, number]>> = [];
  for (let layer = 0; layer < n; layer++) {
    const scale = scales[layer]!;
    if (layer === 0 && spec.reduceBoxesInLowestLayer) {
      layers.push([[0.1, 1.0], [scale, 2.0], [scale, 0.5]]);
      continue;
    }
    const boxes: Array<[number, number]> = spec.aspectRatios.map((ar) => [scale, ar]);
    if (spec.interpolatedScaleAspectRatio > 0) boxes.push([Math.sqrt(scale * scales[layer + 1]!), spec.interpolatedScaleAspectRatio]);
    layers.push(boxes);
  }
  return layers;
}

/** Boxes per grid cell of each layer (what a box predictor multiplies its channels by). */
export function ssdBoxesPerCell(spec: SsdAnchorSpec): number[] {
  return ssdBoxSpecs(spec).map((l) => l.length);
}

/** Anchor count for the given feature maps, without generating them. */
export function ssdAnchorCount(spec: SsdAnchorSpec, featureMaps: ReadonlyArray<readonly [number, number]>): number {
  const perCell = ssdBoxesPerCell(spec);
  checkMaps(spec, featureMaps);
  return featureMaps.reduce((sum, [h, w], i) => sum + h * w * perCell[i]!, 0);
}

/** Anchors [n, 4] as (cy, cx, h, w), normalized to the input, in the order of TFLite's SSD models. */
export function generateSsdAnchors(spec: SsdAnchorSpec, featureMaps: ReadonlyArray<readonly [number, number]>): Float32Array {
  const layers = ssdBoxSpecs(spec);
  const out = new Float32Array(ssdAnchorCount(spec, featureMaps) * 4);
  const f = Math.fround;
  const baseH = f(spec.baseAnchorHeight);
  const baseW = f(spec.baseAnchorWidth);
  const offset = f(spec.offset);
  let k = 0;
  for (let layer = 0; layer < layers.length; layer++) {
    const [gh, gw] = featureMaps[layer]!;
    const boxes = layers[layer]!.map(([scale, ar]) => {
      const s = f(scale);
      const r = f(Math.sqrt(f(ar)));
      const h = f(f(s / r) * baseH);
      const w = f(f(s * r) * baseW);
      return [h, w, f(0.5 * h), f(0.5 * w)] as const;
    });
    const strideY = f(1 / gh);
    const strideX = f(1 / gw);
    const offY = f(offset * strideY);
    const offX = f(offset * strideX);
    for (let y = 0; y < gh; y++) {
      const cy = f(f(y * strideY) + offY);
      for (let x = 0; x < gw; x++) {
        const cx = f(f(x * strideX) + offX);
        for (const [, , halfH, halfW] of boxes) {
          // the corner round trip of the graph and the exporter (see the header)
          const ymin = f(cy - halfH);
          const xmin = f(cx - halfW);
          const height = f(f(cy + halfH) - ymin);
          const width = f(f(cx + halfW) - xmin);
          out[k++] = f(ymin + f(height / 2));
          out[k++] = f(xmin + f(width / 2));
          out[k++] = height;
          out[k++] = width;
        }
      }
    }
  }
  return out;
}

/**
 * Feature map sizes of the TF OD API MobileNet SSD feature extractors (v1, v2, SSDLite) for a square input:
 * the backbone's maps at stride 16 and 32 (SAME padding: ceil), then extra layers of stride 2 (ceil of half).
 */
export function ssdFeatureMaps(resolution: number, numLayers: number): Array<[number, number]> {
  if (!Number.isInteger(resolution) || resolution < 1 || resolution > 4096) {
    throw new EdgefitError('E_DETECT_ANCHORS', `SSD input resolution ${resolution} is not an integer in 1..4096; use the detector's input size in pixels`);
  }
  if (!Number.isInteger(numLayers) || numLayers < 1 || numLayers > 12) {
    throw new EdgefitError('E_DETECT_ANCHORS', `SSD anchor layers ${numLayers} is not an integer in 1..12; MobileNet SSD models use 6`);
  }
  const maps: Array<[number, number]> = [];
  let size = Math.ceil(resolution / 16);
  for (let i = 0; i < numLayers; i++) {
    maps.push([size, size]);
    size = Math.ceil(size / 2);
  }
  return maps;
}

/** How an anchors tensor is quantized in the file (TFLite: uint8 with one scale and zero point), if it is. */
export interface AnchorQuantization {
  scale: number;
  zeroPoint: number;
}

/**
 * The standard SSD-MobileNet anchor spec if it regenerates `embedded` at this resolution exactly, else undefined.
 * Float anchors must be equal in float32, bit for bit. Quantized anchors (the embedded tensor dequantized as
 * `(q - zeroPoint) * scale`) must quantize to the same integers, `round(a / scale) + zeroPoint`: exact in the
 * file's own representation. The uint8 COCO SSD-MobileNet-v2 matches this way (its float anchors, a quantization
 * step of 0.0065 apart, cannot be compared more finely).
 */
export function fitSsdAnchorSpec(embedded: Float32Array, resolution: number, quant?: AnchorQuantization): SsdAnchorSpec | undefined {
  const spec: SsdAnchorSpec = { ...STANDARD_SSD_ANCHORS, aspectRatios: [...STANDARD_SSD_ANCHORS.aspectRatios] };
  const maps = ssdFeatureMaps(resolution, spec.numLayers);
  if (ssdAnchorCount(spec, maps) * 4 !== embedded.length) return undefined;
  return anchorsEqual(generateSsdAnchors(spec, maps), embedded, quant) ? spec : undefined;
}

/** Equal as the file represents them: float32 bits, or the same quantized integers. */
export function anchorsEqual(generated: Float32Array, embedded: Float32Array, quant?: AnchorQuantization): boolean {
  if (generated.length !== embedded.length) return false;
  if (!quant) {
    for (let i = 0; i < generated.length; i++) if (generated[i] !== embedded[i]) return false;
    return true;
  }
  if (!(quant.scale > 0) || !Number.isFinite(quant.scale)) return false;
  for (let i = 0; i < generated.length; i++) {
    if (Math.round(generated[i]! / quant.scale) !== Math.round(embedded[i]! / quant.scale)) return false;
  }
  return true;
}

/** Float32 little-endian anchors (DetectionSpec.anchorsBase64) from a Float32Array. */
export function encodeAnchors(anchors: Float32Array): string {
  const bytes = new Uint8Array(anchors.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < anchors.length; i++) view.setFloat32(i * 4, anchors[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

/** DetectionSpec.anchorsBase64 decoded and checked against anchorCount. */
export function decodeAnchors(spec: DetectionSpec): Float32Array {
  const n = spec.anchorCount;
  if (!Number.isInteger(n) || n < 1) {
    throw new EdgefitError('E_DETECT_ANCHORS', `the model card's anchorCount ${n} is not a positive integer; re-import the detector`);
  }
  const bytes = Buffer.from(spec.anchorsBase64, 'base64');
  if (bytes.length !== n * 16) {
    throw new EdgefitError('E_DETECT_ANCHORS', `the model card's anchors hold ${bytes.length} bytes, not ${n} anchors x 4 float32 (${n * 16}); re-import the detector`);
  }
  const out = new Float32Array(n * 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!Number.isFinite(v)) throw new EdgefitError('E_DETECT_ANCHORS', `the model card's anchor ${i >> 2} has a non-finite value; re-import the detector`);
    out[i] = v;
  }
  return out;
}

/**
 * The anchors of a detector run at `resolution`. The embedded anchors serve every resolution whose feature maps
 * are the native ones (anchors are normalized: only the grid sizes matter); another resolution regenerates them
 * with the card's generator. `nativeResolution` (ModelCard.resolution) settles a card without a generator; with a
 * generator the anchor count decides (the map sizes only grow with the resolution, so an equal count means
 * equal maps).
 */
export function anchorsFor(spec: DetectionSpec, resolution: number, nativeResolution?: number): Float32Array {
  const embedded = decodeAnchors(spec);
  if (nativeResolution !== undefined && resolution === nativeResolution) return embedded;
  const gen = spec.anchorGenerator;
  if (!gen) {
    throw new EdgefitError(
      'E_DETECT_ANCHORS',
      `this detector's anchors are fixed at its native resolution${nativeResolution !== undefined ? ` ${nativeResolution}` : ''} ` +
        `(its embedded anchors do not match the standard SSD generator), so it cannot run at ${resolution}; run it at its native resolution`,
    );
  }
  const maps = ssdFeatureMaps(resolution, gen.numLayers);
  if (ssdAnchorCount(gen, maps) === spec.anchorCount) {
    if (nativeResolution === undefined) return embedded;
    const native = ssdFeatureMaps(nativeResolution, gen.numLayers);
    if (native.every(([h, w], i) => h === maps[i]![0] && w === maps[i]![1])) return embedded;
  }
  return generateSsdAnchors(gen, maps);
}

function checkSpec(spec: SsdAnchorSpec): void {
  const bad = (what: string): never => {
    throw new EdgefitError('E_DETECT_ANCHORS', `SSD anchor generator: ${what}; the standard MobileNet SSD configuration is numLayers 6, scales 0.2..0.95, aspect ratios [1, 2, 0.5, 3, 1/3]`);
  };
  const finitePos = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!Number.isInteger(spec.numLayers) || spec.numLayers < 1 || spec.numLayers > 12) bad(`numLayers ${spec.numLayers} is not an integer in 1..12`);
  if (!finitePos(spec.minScale) || !finitePos(spec.maxScale) || spec.minScale > spec.maxScale) bad(`scales ${spec.minScale}..${spec.maxScale} are not 0 < min <= max`);
  if (!Array.isArray(spec.aspectRatios) || spec.aspectRatios.length === 0 || spec.aspectRatios.length > 16 || !spec.aspectRatios.every(finitePos)) {
    bad(`aspect ratios [${String(spec.aspectRatios)}] are not 1..16 positive numbers`);
  }
  if (typeof spec.reduceBoxesInLowestLayer !== 'boolean') bad('reduceBoxesInLowestLayer is not a boolean');
  const interp = spec.interpolatedScaleAspectRatio;
  if (typeof interp !== 'number' || !Number.isFinite(interp) || interp < 0) bad(`interpolatedScaleAspectRatio ${interp} is not >= 0 (0 disables it)`);
  if (!finitePos(spec.baseAnchorHeight) || !finitePos(spec.baseAnchorWidth)) bad(`base anchor size ${spec.baseAnchorHeight}x${spec.baseAnchorWidth} is not positive`);
  if (typeof spec.offset !== 'number' || !(spec.offset >= 0 && spec.offset <= 1)) bad(`offset ${spec.offset} is not in 0..1`);
}

function checkMaps(spec: SsdAnchorSpec, maps: ReadonlyArray<readonly [number, number]>): void {
  if (!Array.isArray(maps) || maps.length !== spec.numLayers) {
    throw new EdgefitError('E_DETECT_ANCHORS', `SSD anchors: ${Array.isArray(maps) ? maps.length : 'no'} feature maps for ${spec.numLayers} layers; pass one [height, width] per layer`);
  }
  for (const m of maps) {
    if (!Array.isArray(m) || m.length !== 2 || !m.every((d) => Number.isInteger(d) && d >= 1 && d <= 1024)) {
      throw new EdgefitError('E_DETECT_ANCHORS', `SSD anchors: feature map ${JSON.stringify(m)} is not [height, width] of integers in 1..1024`);
    }
  }
}
