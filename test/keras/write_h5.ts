import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Writes a model's weights in the legacy Keras HDF5 layout the Keras Applications files use
 * (root `layer_names`; per layer `weight_names` and `<layer>/<weight>:0` datasets), with h5wasm.
 * For tests that need a whole file of a given architecture at a given place (the ImageNet cache)
 * without shipping it; parity with Keras itself is tested on files Keras wrote.
 */
export async function writeLegacyH5(model: tfl.LayersModel): Promise<Uint8Array> {
  const h5 = await import('h5wasm');
  await h5.ready;
  const name = `/test-legacy-${Math.random().toString(36).slice(2)}.h5`;
  const file = new h5.File(name, 'w');
  const layers = model.layers.filter((layer) => layer.weights.length > 0);
  file.create_attribute('layer_names', layers.map((layer) => layer.name));
  for (const layer of layers) {
    const group = file.create_group(layer.name);
    const names = layer.weights.map((weight) => `${weight.originalName}:0`);
    group.create_attribute('weight_names', names);
    layer.weights.forEach((weight, i) => {
      // h5wasm creates no intermediate groups: `Conv1/kernel:0` needs the group `Conv1` first.
      const [scope, leaf] = [names[i].split('/').slice(0, -1).join('/'), names[i].split('/').pop()!];
      const parent = scope === '' ? group : ((group.get(scope) as typeof group | null) ?? group.create_group(scope));
      parent.create_dataset({ name: leaf, data: weight.read().dataSync() as Float32Array, shape: weight.shape as number[], dtype: '<f' });
    });
  }
  file.close();
  const bytes = h5.FS!.readFile(name) as Uint8Array;
  h5.FS!.unlink(name);
  return bytes;
}
