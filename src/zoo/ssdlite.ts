/**
 * SSDLite (Sandler et al. 2018, section 6.2) on a MobileNet backbone, as the TF Object Detection API builds it
 * (`ssd_mobilenet_v1/v2_feature_extractor` + `multi_resolution_feature_maps` with `use_depthwise`, and the
 * `convolutional_box_predictor` with `use_depthwise`):
 * - two backbone taps: stride 16 and stride 32 (v1: Conv2d_11_pointwise, Conv2d_13_pointwise; v2: the
 *   expansion output of layer_15 = block13, and layer_19 = the last 1x1 conv, as the paper says);
 * - four extra layers, each 1x1 conv to d/2, 3x3 depthwise stride 2, 1x1 conv to d (d = 512, 256, 256, 128,
 *   times alpha, at least 16), BN + ReLU6 after every conv;
 * - per feature map a box predictor and a class predictor, each 3x3 depthwise (BN + ReLU6) then a 1x1 conv with
 *   bias to boxes * 4 and boxes * (classes + 1) channels (class 0 = background);
 * - the `raw` output [anchors, 4 + classes + 1] in the anchor order of src/detect/anchors.ts (standard SSD anchors:
 *   3 boxes per cell on the first map, 6 on the others).
 *
 * Names (TF OD API scopes in brackets): extra{i}.reduce [layer_19_1_Conv2d_{i+1}_1x1_{d/2}],
 * extra{i}.dw/.pw [layer_19_2_Conv2d_{i+1}_3x3_s2_{d}_depthwise / _{d}], head{m}.box.dw/.box
 * [BoxPredictor_{m}/BoxEncodingPredictor_depthwise / BoxEncodingPredictor], head{m}.class.dw/.class
 * [BoxPredictor_{m}/ClassPredictor_depthwise / ClassPredictor], raw.
 */
import { convBnAct, separable, type GraphBuilder } from './blocks.js';
import { scaleChannels } from './common.js';
import type { OptionSpec } from './family-spec.js';
import { STANDARD_SSD_ANCHORS, encodeAnchors, generateSsdAnchors, ssdBoxesPerCell, ssdFeatureMaps } from '../detect/anchors.js';
import type { DetectionSpec } from '../types/detection.js';

/** Output depths of the four extra feature maps (the TF OD API SSDLite configs, and the paper). */
export const SSDLITE_EXTRA_DEPTHS: readonly number[] = [512, 256, 256, 128];
/** the TF OD API's min_depth of the extra layers */
const MIN_DEPTH = 16;
/** box code size: ty, tx, th, tw */
const COORDS = 4;

/** The `head` option of the MobileNet families. */
export const HEAD: OptionSpec = {
  values: ['classifier', 'ssdlite'],
  default: 'classifier',
  description: 'classifier: global pool + classes; ssdlite: SSDLite detector (output raw [anchors, 4 + classes + 1], classes without background, e.g. 90 for COCO)',
};

/**
 * Appends the SSDLite extra layers, predictors and the `raw` output to the backbone taps (stride 16, stride 32).
 * `classes` excludes the background class.
 */
export function ssdliteHead(b: GraphBuilder, taps: readonly [string, string], alpha: number, classes: number): string {
  const maps: string[] = [...taps];
  let x = taps[1];
  SSDLITE_EXTRA_DEPTHS.forEach((d, i) => {
    const depth = (v: number) => Math.max(scaleChannels(v, alpha), MIN_DEPTH);
    x = convBnAct(b, `extra${i + 1}.reduce`, x, { out: depth(d / 2), kernel: 1 });
    x = separable(b, `extra${i + 1}`, x, { out: depth(d), stride: 2 });
    maps.push(x);
  });
  const boxes = ssdBoxesPerCell(STANDARD_SSD_ANCHORS);
  const predictor = (m: number, what: 'box' | 'class', out: number): string => {
    const c = b.channels(maps[m]!);
    const dw = convBnAct(b, `head${m}.${what}.dw`, maps[m]!, { out: c, kernel: 3, group: c });
    return b.conv(`head${m}.${what}`, dw, { out, kernel: 1, bias: true });
  };
  const boxOuts = maps.map((_, m) => predictor(m, 'box', boxes[m]! * COORDS));
  const classOuts = maps.map((_, m) => predictor(m, 'class', boxes[m]! * (classes + 1)));
  return b.ssdOutput('raw', boxOuts, classOuts, { coords: COORDS, classes: classes + 1, boxes });
}

/**
 * The model card's DetectionSpec of a zoo SSDLite at this resolution: its anchors (the standard generator at its
 * feature maps, the order of `raw`), the TF OD API box coder scales and the post-process options of the COCO
 * SSD-MobileNet-v2 in the test data (fast NMS, IoU 0.6, 20 detections), so a zoo detector decodes like it.
 */
export function ssdliteDetectionSpec(resolution: number, classes: number): DetectionSpec {
  const anchorGenerator = { ...STANDARD_SSD_ANCHORS, aspectRatios: [...STANDARD_SSD_ANCHORS.aspectRatios] };
  const anchors = generateSsdAnchors(anchorGenerator, ssdFeatureMaps(resolution, anchorGenerator.numLayers));
  return {
    postprocess: {
      maxDetections: 20, maxClassesPerDetection: 1, detectionsPerClass: 100, useRegularNms: false,
      nmsIouThreshold: 0.6, nmsScoreThreshold: 1e-8, numClasses: classes, scales: { y: 10, x: 10, h: 5, w: 5 },
    },
    background: true,
    anchorsBase64: encodeAnchors(anchors),
    anchorCount: anchors.length / 4,
    anchorGenerator,
    resize: 'stretch',
  };
}
