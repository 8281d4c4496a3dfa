import * as tf from '@tensorflow/tfjs-core';
import { Conv2DReparameterization, conv2dReparameterization, type Conv2DReparameterizationArgs } from '../../src';
import { sharesOneSampleAcrossTheBatch } from './conv_battery';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv2DReparameterizationArgs>({
  className: 'Conv2DReparameterization',
  create: (args) => conv2dReparameterization({ filters: 3, kernelSize: 2, dilationRate: [2, 1], ...args }),
  inputShape: [5, 5, 2],
  linear: (x, kernel) => tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'valid', 'NHWC', [2, 1]),
  defaultMode: 'sample',
  independentRowsMode: null,
  badArguments: [{ args: { filters: 1.5 }, message: /Conv2DReparameterization: filters must be an integer >= 1; got 1.5/ }],
});

describe('Conv2DReparameterization', () => {
  sharesOneSampleAcrossTheBatch(
    { className: 'Conv2DReparameterization', create: (args) => new Conv2DReparameterization(args as Conv2DReparameterizationArgs) },
    [4, 4],
  );
});
