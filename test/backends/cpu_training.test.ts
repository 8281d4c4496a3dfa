import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import fc from 'fast-check';
import { registerTrainingKernels, trainingKernels } from '../../src/backends/training_kernels';
import { expectNoLeaks } from '../helpers';
import { fitSmallCnn } from './small_cnn';

// tfjs keeps its kernel registry on the global object, and jest gives every test file its own
// global: the kernels this file registers are seen by this file only. Other files run tfjs' own
// cpu kernels unless they call registerCpuTrainingKernels (as selectBackend does when it picks cpu).

const TOLERANCE = 1e-4;
const SEED = 20261125;
const CPU_KERNELS = trainingKernels('cpu');

/** tfjs' own cpu kernels, captured before ours replace them (training_kernels registers nothing on import). */
const ORIGINALS = new Map(CPU_KERNELS.map(({ kernelName }) => [kernelName, tf.getKernel(kernelName, 'cpu')?.kernelFunc]));
const KEPT = [tf.Conv2DBackpropInput, tf.DepthwiseConv2dNativeBackpropFilter, tf.DepthwiseConv2dNativeBackpropInput];
const KEPT_ORIGINALS = KEPT.map((name) => tf.getKernel(name, 'cpu')?.kernelFunc);

beforeAll(() => {
  registerTrainingKernels('cpu');
});

/** Runs tfjs' original cpu kernel `kernelName` and returns its output as a Tensor. */
function original(kernelName: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor {
  const kernelFunc = ORIGINALS.get(kernelName);
  if (kernelFunc === undefined) throw new Error(`no original cpu kernel ${kernelName}`);
  const output = kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: tf.backend() }) as tf.TensorInfo;
  return tf.engine().makeTensorFromTensorInfo(output);
}

const registered = (kernelName: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
  tf.engine().runKernel(kernelName, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;

/** max |a − b| / max |b|: the relative error of `actual` against `expected`, scale-free. */
function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0] / tf.max(tf.abs(expected)).dataSync()[0]);
}

function expectEqualKernels(kernelName: string, inputs: tf.NamedTensorMap, attrs: object): void {
  tf.tidy(() => {
    const expected = original(kernelName, inputs, attrs);
    const actual = registered(kernelName, inputs, attrs);
    expect(actual.shape).toEqual(expected.shape);
    expect(relativeError(actual, expected)).toBeLessThan(TOLERANCE);
  });
}

/** A convolution of odd sizes: batch, input side lengths and channels, filter side lengths, stride, padding. */
const convolution = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    height: fc.integer({ min: 1, max: 11 }),
    width: fc.integer({ min: 1, max: 11 }),
    inChannels: fc.integer({ min: 1, max: 4 }),
    outChannels: fc.integer({ min: 1, max: 4 }),
    filterHeight: fc.integer({ min: 1, max: 4 }),
    filterWidth: fc.integer({ min: 1, max: 4 }),
    strides: fc.constantFrom(1, 2),
    pad: fc.constantFrom('same' as const, 'valid' as const),
  })
  // 'valid' needs the filter to fit inside the input.
  .filter((c) => c.pad === 'same' || (c.filterHeight <= c.height && c.filterWidth <= c.width));
type Convolution = typeof convolution extends fc.Arbitrary<infer C> ? C : never;

/** Seeded x, filter and dy of convolution `c`. */
function tensors(c: Convolution): { x: tf.Tensor4D; filter: tf.Tensor4D; dy: tf.Tensor4D } {
  const x = tf.randomNormal([c.batch, c.height, c.width, c.inChannels], 0, 1, 'float32', 1) as tf.Tensor4D;
  const filter = tf.randomNormal([c.filterHeight, c.filterWidth, c.inChannels, c.outChannels], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, c.strides, c.pad);
  const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3) as tf.Tensor4D;
  y.dispose();
  return { x, filter, dy };
}

describe('CPU training kernels: equal to tfjs’ own cpu kernels', () => {
  it('replaces Conv2DBackpropFilter only; the input and depthwise gradients stay tfjs’ own', () => {
    expect(CPU_KERNELS.map(({ kernelName }) => kernelName)).toEqual([tf.Conv2DBackpropFilter]);
    for (const { kernelName, kernelFunc, replaces } of CPU_KERNELS) {
      expect(replaces).toBe(true);
      expect(ORIGINALS.get(kernelName)).toBeDefined();
      expect(tf.getKernel(kernelName, 'cpu')?.kernelFunc).toBe(kernelFunc);
    }
    expect(KEPT_ORIGINALS.every((kernelFunc) => kernelFunc !== undefined)).toBe(true);
    expect(KEPT.map((name) => tf.getKernel(name, 'cpu')?.kernelFunc)).toEqual(KEPT_ORIGINALS);
  });

  it('Conv2DBackpropFilter, random shapes (odd sizes, strides 1 and 2, same and valid padding)', () => {
    fc.assert(
      fc.property(convolution, (c) => {
        const { x, filter, dy } = tensors(c);
        expectEqualKernels(tf.Conv2DBackpropFilter, { x, dy }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: filter.shape });
        tf.dispose([x, filter, dy]);
      }),
      { numRuns: 40, seed: SEED },
    );
  });


  it('channels-first Conv2DBackpropFilter goes to tfjs’ own kernel, so it is still computed', () => {
    const x = tf.randomNormal([2, 3, 7, 6], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 2);
    expectEqualKernels(tf.Conv2DBackpropFilter, { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] });
    tf.dispose([x, dy]);
  });
});

describe('CPU training kernels: registration and hygiene', () => {
  it('registers idempotently; importing cpu_training registers nothing more', async () => {
    expect(registerTrainingKernels('cpu')).toEqual([]);
    const { registerCpuTrainingKernels, CPU_TRAINING_KERNELS } = await import('../../src/backends/cpu_training');
    expect(CPU_TRAINING_KERNELS).toBe(CPU_KERNELS);
    expect(registerCpuTrainingKernels()).toEqual([]);
    for (const { kernelName, kernelFunc } of CPU_KERNELS) expect(tf.getKernel(kernelName, 'cpu')?.kernelFunc).toBe(kernelFunc);
  });

  it('refuses a backend tfjs does not know yet, whose own kernels would later overwrite ours', () => {
    expect(() => registerTrainingKernels('wasm')).toThrow(
      /^registerTrainingKernels: the 'wasm' backend must be registered first; it is not\. Import '@tensorflow\/tfjs-backend-wasm'/,
    );
  });

  it('refuses a backend it has no kernels for', () => {
    expect(() => registerTrainingKernels('webgl' as 'cpu')).toThrow(
      /^registerTrainingKernels: backendName must be one of wasm, cpu; got 'webgl'\. Other backends have fast gradients of their own\.$/,
    );
  });

  it('leaves no tensors behind', async () => {
    const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([2, 4, 4, 6], 0, 1, 'float32', 2);
    await expectNoLeaks(() => registered(tf.Conv2DBackpropFilter, { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 6] }));
    tf.dispose([x, dy]);
  });
});

describe('model.fit on cpu', () => {
  it('trains a small CNN (strided conv, depthwise conv, pooling) and lowers the loss, without leaks', async () => {
    const { losses, tensorsGained } = await fitSmallCnn();
    expect(tensorsGained).toBe(0);
    expect(losses[losses.length - 1]).toBeLessThan(0.7 * losses[0]);
  });
});
