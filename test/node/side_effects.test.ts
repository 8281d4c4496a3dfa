import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

/**
 * Importing tfjs-trust/node (or tfjs-trust/wasm-training) defines things and changes no global
 * kernel (issue #18, item 5): registering the training kernels is a call. The backends are
 * imported first, as a user's program would, so their own kernels are in place to compare with.
 */
describe('importing tfjs-trust/node', () => {
  it('leaves every kernel of the cpu and wasm backends as it was; the register calls change them', async () => {
    const names = [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.DepthwiseConv2dNativeBackpropFilter, tf.UnsortedSegmentSum];
    const snapshot = () => ['cpu', 'wasm'].flatMap((backend) => names.map((name) => tf.getKernel(name, backend)?.kernelFunc));
    const before = snapshot();
    const node = await import('../../src/node');
    await import('../../src/backends/wasm_training');
    expect(snapshot()).toEqual(before);
    expect(node.registerCpuTrainingKernels()).toEqual([tf.Conv2DBackpropFilter]);
    expect(node.registerWasmTrainingKernels()).toContain(tf.Conv2DBackpropFilter);
    expect(snapshot()).not.toEqual(before);
  });
});
