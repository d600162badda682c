import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { importModel } from '../../src/importers/index.js';
import { EdgefitError } from '../../src/util/errors.js';
import { FuzzRunner } from '../../scripts/fuzz/harness.js';

/**
 * HDF5 external links name an object in another file; h5wasm follows them on every read, so a Keras .h5 could
 * make edgefit read any file on the device (and serve its values as weights), or block for ever on a FIFO. Every
 * way to reach another file from the paths the importer reads is refused with E_KERAS_FORMAT before it is
 * resolved; the same model with its weight inside the file imports.
 */

type Link =
  | { kind: 'none' }
  /** the conv kernel dataset is an external link */
  | { kind: 'dataset'; file: string }
  /** the layer's group is an external link to a group of another file holding the kernel */
  | { kind: 'group'; file: string }
  /** the layer's group is a soft link to a root-level external link (a soft link alone stays in the file) */
  | { kind: 'soft'; file: string };

const KERNEL = new Float32Array(3 * 3 * 3 * 4).map((_, i) => ((i % 7) - 3) / 10);
const STOLEN = 42;

/** conv 3x3 (4 filters, no bias) -> global average pool, on 8x8 RGB: the smallest model that reads one weight */
async function kerasH5(path: string, link: Link): Promise<void> {
  await h5wasm.ready;
  const L = (name: string, cls: string, config: Record<string, unknown>, inbound?: string) => ({ class_name: cls, name, config: { name, ...config }, inbound_nodes: inbound ? [[[inbound, 0, 0, {}]]] : [] });
  const layers = [
    L('input_1', 'InputLayer', { batch_input_shape: [null, 8, 8, 3] }),
    L('conv', 'Conv2D', { filters: 4, kernel_size: [3, 3], padding: 'same', activation: 'relu', use_bias: false }, 'input_1'),
    L('gap', 'GlobalAveragePooling2D', {}, 'conv'),
  ];
  const f = new h5wasm.File(path, 'w');
  try {
    f.create_attribute('model_config', JSON.stringify({ class_name: 'Functional', config: { name: 'tiny', layers, input_layers: [['input_1', 0, 0]], output_layers: [['gap', 0, 0]] } }));
    f.create_attribute('keras_version', '2.13.1');
    const mw = f.create_group('model_weights');
    mw.create_attribute('layer_names', ['input_1', 'conv', 'gap']);
    for (const n of ['input_1', 'gap']) mw.create_group(n).create_attribute('weight_names', []);
    if (link.kind === 'group' || link.kind === 'soft') {
      if (link.kind === 'group') mw.create_external_link(link.file, 'conv', 'conv');
      else {
        f.create_external_link(link.file, 'conv', 'elsewhere');
        mw.create_soft_link('/elsewhere', 'conv');
      }
      return;
    }
    const g = mw.create_group('conv');
    g.create_attribute('weight_names', ['conv/kernel:0']);
    const inner = g.create_group('conv');
    if (link.kind === 'dataset') inner.create_external_link(link.file, 'secret', 'kernel:0');
    else inner.create_dataset({ name: 'kernel:0', data: KERNEL, shape: [3, 3, 3, 4], dtype: '<f' });
  } finally {
    f.close();
  }
}

/** "another file on the device": an .h5 of recognisable values, laid out so that either link finds a kernel */
async function otherFile(path: string): Promise<void> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  try {
    const data = new Float32Array(KERNEL.length).fill(STOLEN);
    f.create_dataset({ name: 'secret', data, shape: [3, 3, 3, 4], dtype: '<f' });
    const g = f.create_group('conv');
    g.create_attribute('weight_names', ['conv/kernel:0']);
    g.create_group('conv').create_dataset({ name: 'kernel:0', data, shape: [3, 3, 3, 4], dtype: '<f' });
  } finally {
    f.close();
  }
}

describe('a Keras .h5 cannot make edgefit read other files', () => {
  let dir: string;
  let other: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefit-h5-link-'));
    mkdirSync(join(dir, 'elsewhere'));
    other = join(dir, 'elsewhere', 'other-file.h5');
    await otherFile(other);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the same model with its weight inside the file imports (the builder is sound)', async () => {
    const p = join(dir, 'plain.h5');
    await kerasH5(p, { kind: 'none' });
    const r = await importModel(p);
    expect(r.card.classes).toBe(4);
  });

  for (const kind of ['dataset', 'group', 'soft'] as const) {
    it(`a ${kind === 'soft' ? 'soft link leading to an external link' : `${kind} that is an external link`} is refused, naming the link and what to do`, async () => {
      const p = join(dir, `${kind}.h5`);
      await kerasH5(p, { kind, file: other });
      const err = await importModel(p).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EdgefitError);
      expect((err as EdgefitError).code).toBe('E_KERAS_FORMAT');
      expect((err as EdgefitError).message).toMatch(kind === 'soft' ? /model_weights\/conv is a soft link to "\/elsewhere"/ : /is an external link to ".*other-file\.h5"/);
      expect((err as EdgefitError).message).toMatch(/re-save the model with its weights inside the file/i);
    });
  }

  it('an external link to a FIFO is refused instead of blocking the process for ever', async () => {
    const fifo = join(dir, 'fifo.h5');
    execFileSync('mkfifo', [fifo]);
    const p = join(dir, 'fifo-link.h5');
    await kerasH5(p, { kind: 'dataset', file: fifo });
    // a blocked synchronous WASM read would hang this test process: the import runs in a bounded child
    const runner = new FuzzRunner();
    try {
      const r = await runner.run('keras', p, 30_000);
      expect(r, r.message).toMatchObject({ outcome: 'refused', code: 'E_KERAS_FORMAT' });
      expect(r.message).toMatch(/external link to ".*fifo\.h5"/);
    } finally {
      runner.close();
    }
  });
});
