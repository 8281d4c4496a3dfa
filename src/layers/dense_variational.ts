import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkNumber } from '../validation';
import type { SeedStream } from '../random';
import type { SamplingMode } from './sampling';
import type { KernelDraw } from './estimators';
import { singleShape, VariationalLayer, type VariationalLayerArgs } from './variational';

/** Arguments of a variational dense layer: the number of units plus the variational ones. */
export interface DenseVariationalArgs extends VariationalLayerArgs {
  /** Number of output units. A positive integer. */
  units: number;
}

/**
 * The dense geometry shared by the dense variational layers: kernel [inputDim, units], output
 * x·W + b. Inputs of rank > 2 are treated as a batch of rows over all leading axes, as TFP does.
 */
export abstract class DenseVariational extends VariationalLayer {
  readonly units: number;
  /** In 'local' mode each row is an exact, independent draw of its own predictive distribution. */
  readonly independentRowsMode: SamplingMode = 'local';

  constructor(args: DenseVariationalArgs) {
    super(args);
    this.units = checkNumber(this.who(args.name ?? ''), 'units', args.units, { min: 1, integer: true });
  }

  protected override get outputChannels(): number {
    return this.units;
  }

  protected override kernelShape(inputShape: tfl.Shape): number[] {
    const inputDim = inputShape[inputShape.length - 1] as number;
    this.inputSpec = [{ minNDim: 2, axes: { [-1]: inputDim } }];
    return [inputDim, this.units];
  }

  protected override readonly linear = (x: tf.Tensor, kernel: tf.Tensor): tf.Tensor => tf.matMul(x, kernel);

  protected override applyKernel(x: tf.Tensor, mode: SamplingMode, seeds: SeedStream, drawn: KernelDraw | null): tf.Tensor {
    if (x.rank === 2) return super.applyKernel(x, mode, seeds, drawn);
    // Explicit row count, not -1: tfjs cannot infer -1 for an empty batch.
    const rowCount = x.shape.slice(0, -1).reduce((product, size) => product * size, 1);
    const rows = tf.reshape(x, [rowCount, x.shape[x.rank - 1]]);
    return tf.reshape(super.applyKernel(rows, mode, seeds, drawn), [...x.shape.slice(0, -1), this.units]);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override getConfig(): serialization.ConfigDict {
    return { units: this.units, ...super.getConfig() };
  }
}
