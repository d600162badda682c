import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { tinyClassifier } from '../helpers/tiny-model.js';

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** Every file below dir with its sha256 (temp files included): a snapshot to prove nothing changed. */
export function snapshot(dir: string, skip: RegExp = /$^/): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const p of (readdirSync(dir, { recursive: true }) as string[]).sort()) {
    if (skip.test(p)) continue;
    const full = join(dir, p);
    if (statSync(full).isFile()) out[p] = sha256(readFileSync(full));
  }
  return out;
}

/** Labels that would be topic injection if a label ever became a topic level (they may only go into payloads). */
export const NASTY_LABELS = ['cat+dog', 'edgefit/#', 'a/b/c', '#', '+', 'nul\u0000byte', 'esc\u001b[31mred', '../../etc/passwd', 'rtl\u202eevil', '$SYS/broker'];

/**
 * A model that passes parsing and session creation but blows up when run: its input is upsampled to a huge
 * tensor (about `mb` MB), the way a malformed or hostile model can take a process's memory.
 */
export function memoryBomb(mb = 1500, classes = NASTY_LABELS.length): Uint8Array {
  const b = new OnnxBuilder('bomb');
  const x = b.input('pixels', DataType.UINT8, [1, 32, 32, 3]);
  const f = b.op('Cast', [x], { to: 1 });
  const nchw = b.op('Transpose', [f], { perm: [0, 3, 1, 2] });
  const side = Math.ceil(Math.sqrt((mb * 1024 * 1024) / 4 / 3) / 32);
  const up = b.op('Resize', [nchw, b.initializer('roi', [0], new Float32Array(0)), b.initializer('scales', [4], new Float32Array([1, 1, side, side]))], { mode: 'nearest' });
  const g = b.op('GlobalAveragePool', [up]);
  const flat = b.op('Flatten', [g]);
  const w = b.initializer('w', [classes, 3], new Float32Array(classes * 3).fill(0.01));
  const logits = b.op('Gemm', [flat, w], { transB: 1 });
  b.output(b.op('Softmax', [logits], { axis: 1 }, 'softmax', 'probabilities'), DataType.FLOAT, [1, classes]);
  return b.toBytes();
}

/** A model onnxruntime loads but cannot run: a Conv whose group (absurd for its weights) fails at the first run. */
export function failsAtRun(classes = NASTY_LABELS.length): Uint8Array {
  const b = new OnnxBuilder('badgroup');
  const x = b.input('pixels', DataType.UINT8, [1, 32, 32, 3]);
  const f = b.op('Cast', [x], { to: 1 });
  const nchw = b.op('Transpose', [f], { perm: [0, 3, 1, 2] });
  const c = b.op('Conv', [nchw, b.initializer('k', [3, 3, 3, 3], new Float32Array(81).fill(0.1))], { kernel_shape: [3, 3], group: 0 });
  const g = b.op('GlobalAveragePool', [c]);
  const flat = b.op('Flatten', [g]);
  const logits = b.op('Gemm', [flat, b.initializer('w', [classes, 3], new Float32Array(classes * 3).fill(0.01))], { transB: 1 });
  b.output(b.op('Softmax', [logits], { axis: 1 }, 'softmax', 'probabilities'), DataType.FLOAT, [1, classes]);
  return b.toBytes();
}

export interface Fixture {
  /** the mirror directory, laid out like the catalog's paths */
  mirror: string;
  catalogPath: string;
  catalog: Record<string, unknown> & { models: Record<string, unknown>[]; labels: Record<string, unknown>[] };
  ids: { good: string; bomb: string; failing: string; spare: string };
  /** bytes of each model file by id */
  bytes: Record<string, Uint8Array>;
}

/**
 * A catalog of ONNX models served from a mirror directory: a good tiny classifier, a memory bomb and a model that
 * fails at run time (both ranked above the good one, so the selector tries them first), and a spare model that is
 * not pulled at first. All use the nasty labels.
 */
export function makeFixture(): Fixture {
  const mirror = mkdtempSync(join(tmpdir(), 'edgefit-sec-mirror-'));
  const put = (rel: string, data: Uint8Array | string) => {
    mkdirSync(dirname(join(mirror, rel)), { recursive: true });
    writeFileSync(join(mirror, rel), data);
    return rel;
  };
  const classes = NASTY_LABELS.length;
  const labelsText = NASTY_LABELS.join('\n') + '\n';
  const bytes: Record<string, Uint8Array> = {
    'tiny-good': tinyClassifier({ resolution: 32, width: 8, classes }),
    'tiny-bomb': memoryBomb(1500, classes),
    'tiny-failing': failsAtRun(classes),
    'tiny-spare': tinyClassifier({ resolution: 32, width: 12, classes }),
  };
  const accuracy: Record<string, number> = { 'tiny-good': 0.3, 'tiny-bomb': 0.9, 'tiny-failing': 0.8, 'tiny-spare': 0.5 };
  const models = Object.entries(bytes).map(([id, b]) => ({
    id, task: 'imagenet', family: 'mobilenet_v1', alpha: 0.25, resolution: 32, precision: 'fp32', format: 'onnx',
    file: put(`models/${id}.onnx`, b), sha256: sha256(b), size: b.length, urls: [], referenceAccuracy: accuracy[id], labels: 'nasty', licence: 'test',
  }));
  const catalog = { version: 1, labels: [{ id: 'nasty', file: put('labels/nasty.txt', labelsText), sha256: sha256(labelsText), urls: [] }], models };
  const catalogPath = join(mkdtempSync(join(tmpdir(), 'edgefit-sec-catalog-')), 'catalog.json');
  writeFileSync(catalogPath, JSON.stringify(catalog, null, 2));
  return { mirror, catalogPath, catalog, ids: { good: 'tiny-good', bomb: 'tiny-bomb', failing: 'tiny-failing', spare: 'tiny-spare' }, bytes };
}
