import * as tf from '@tensorflow/tfjs-core';
import { Conv3DReparameterization, conv3dReparameterization, type Conv3DReparameterizationArgs } from '../../src';
import { sharesOneSampleAcrossTheBatch } from './conv_battery';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv3DReparameterizationArgs>({
  className: 'Conv3DReparameterization',
  create: (args) => conv3dReparameterization({ filters: 2, kernelSize: 2, dilationRate: [1, 2, 1], ...args }),
  inputShape: [2, 3, 2, 2],
  linear: (x, kernel) => tf.conv3d(x as tf.Tensor5D, kernel as tf.Tensor5D, 1, 'valid', 'NDHWC', [1, 2, 1]),
  defaultMode: 'sample',
  independentRowsMode: null,
  calls: 1000,
  badArguments: [{ args: { filters: 1.5 }, message: /Conv3DReparameterization: filters must be an integer >= 1; got 1.5/ }],
});

describe('Conv3DReparameterization', () => {
  sharesOneSampleAcrossTheBatch(
    { className: 'Conv3DReparameterization', create: (args) => new Conv3DReparameterization(args as Conv3DReparameterizationArgs) },
    [3, 3, 3],
  );
});
