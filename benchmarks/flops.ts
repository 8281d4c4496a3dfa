/**
 * Floating-point operations of a model's convolutions and dense layers, to turn a time into
 * effective GFLOP/s. A multiply-add counts 2. Other layers (pooling, activations) are left out.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

/** FLOPs of one forward pass of `batch` examples through `model`'s Conv2D and Dense layers. */
export function forwardFlops(model: tfl.LayersModel, batch: number): number {
  let flops = 0;
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (kind !== 'Conv2D' && kind !== 'Dense') continue;
    const input = layer.inputSpec?.[0]?.axes?.[-1] ?? (layer.input as tfl.SymbolicTensor).shape.at(-1);
    const output = (layer.output as tfl.SymbolicTensor).shape;
    const positions = output.slice(1, -1).reduce<number>((product, side) => product * (side ?? 1), 1);
    const kernel = kind === 'Conv2D' ? (layer.getConfig().kernelSize as number[]).reduce((a, b) => a * b, 1) : 1;
    flops += 2 * batch * positions * kernel * (input as number) * (output.at(-1) as number);
  }
  return flops;
}

/**
 * FLOPs of one training step: the forward pass, then a gradient for each weight and for each
 * layer's input, each as costly as the forward product (3× in all; a slight overcount for the
 * first layer, whose input gradient is not needed).
 */
export function trainingFlops(model: tfl.LayersModel, batch: number): number {
  return 3 * forwardFlops(model, batch);
}
