/**
 * The names the detection task shares between the importer (which writes them into the model card), the
 * pure post-processing in src/detect, the catalog's ladder, the pipeline and the MQTT payloads.
 *
 * A detector's ONNX graph has ONE output, `raw`, float32 [1, anchors, 4 + classes (+1 with background)]: per anchor
 * the four box encodings (ty, tx, th, tw, as TFLite's box coder orders them) followed by the class scores
 * (after the model's own LOGISTIC/softmax). One output keeps the Engine's single-tensor contract (the worker's
 * shared result slot), and the post-process runs on it in TypeScript with the semantics of TFLite's
 * `TFLite_Detection_PostProcess` op.
 */

/** SSD anchor generator options (TF Object Detection API `ssd_anchor_generator`), enough to regenerate the anchors at any input size. */
export interface SsdAnchorSpec {
  numLayers: number;
  minScale: number;
  maxScale: number;
  aspectRatios: number[];
  /** the lowest layer uses 3 boxes (scale 0.1 at aspect 1, then 2.0 and 0.5) */
  reduceBoxesInLowestLayer: boolean;
  /** an extra box at sqrt(scale * nextScale) with this aspect ratio; 0 disables */
  interpolatedScaleAspectRatio: number;
  baseAnchorHeight: number;
  baseAnchorWidth: number;
  /** centre offset of an anchor within its cell (0.5 = the cell's centre) */
  offset: number;
}

/** The post-process options of TFLite's op, validated at import. */
export interface DetectionPostprocess {
  maxDetections: number;
  maxClassesPerDetection: number;
  /** regular NMS only */
  detectionsPerClass: number;
  useRegularNms: boolean;
  nmsIouThreshold: number;
  nmsScoreThreshold: number;
  /** classes without the background row */
  numClasses: number;
  /** box coder scales, TFLite order */
  scales: { y: number; x: number; h: number; w: number };
}

/** ModelCard.detection: everything needed to turn `raw` into boxes. */
export interface DetectionSpec {
  postprocess: DetectionPostprocess;
  /** the class scores start with a background column that is skipped (TFLite SSD: yes) */
  background: boolean;
  /** anchors at the native resolution as the model embeds them: float32 little-endian [n, 4] (cy, cx, h, w), base64 */
  anchorsBase64: string;
  anchorCount: number;
  /** present when the generator reproduces the embedded anchors exactly: smaller rungs regenerate them */
  anchorGenerator?: SsdAnchorSpec;
  /** how frames are fitted to the input: detectors see the whole frame squashed, never a centre crop */
  resize: 'stretch';
}

/** One detection, normalized to the frame. */
export interface Detection {
  label: string;
  /** the model's class index without background (COCO: 0 = person) */
  index: number;
  score: number;
  /** [ymin, xmin, ymax, xmax] in 0..1, clipped to the frame */
  box: [number, number, number, number];
}
