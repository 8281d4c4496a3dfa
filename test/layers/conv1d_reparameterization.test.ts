import * as tf from '@tensorflow/tfjs-core';
import { Conv1DReparameterization, conv1dReparameterization, type Conv1DReparameterizationArgs } from '../../src';
import { sharesOneSampleAcrossTheBatch } from './conv_battery';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv1DReparameterizationArgs>({
  className: 'Conv1DReparameterization',
  create: (args) => conv1dReparameterization({ filters: 3, kernelSize: 2, dilationRate: 2, ...args }),
  inputShape: [6, 2],
  linear: (x, kernel) => tf.conv1d(x as tf.Tensor3D, kernel as tf.Tensor3D, 1, 'valid', 'NWC', 2),
  defaultMode: 'sample',
  independentRowsMode: null,
  badArguments: [{ args: { filters: 1.5 }, message: /Conv1DReparameterization: filters must be an integer >= 1; got 1.5/ }],
});

describe('Conv1DReparameterization', () => {
  sharesOneSampleAcrossTheBatch(
    { className: 'Conv1DReparameterization', create: (args) => new Conv1DReparameterization(args as Conv1DReparameterizationArgs) },
    [5],
  );
});
