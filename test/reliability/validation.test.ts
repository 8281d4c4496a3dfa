import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError, DataError, ShapeError } from '../../src';
import { assertFinite, checkBoolean, checkIndex, checkModel, checkOptions, checkTensor, nearest } from '../../src/validation';
import { expectNoLeaks } from '../helpers';

describe('checkTensor', () => {
  it('returns a tensor that meets the expectation', () => {
    const x = tf.zeros([2, 3]);
    expect(checkTensor('f', 'x', x, { rank: 2, dtypes: ['float32'], nonEmpty: true })).toBe(x);
    expect(checkTensor('f', 'x', x, { rank: [1, 3] })).toBe(x);
    x.dispose();
  });

  it('refuses a non-tensor, naming the function, the argument and the fix', () => {
    expect(() => checkTensor('f', 'images', [1, 2])).toThrow(
      new ArgumentError('f: images must be a tf.Tensor; got [1, 2]. Wrap the data with tf.tensor().'),
    );
    expect(() => checkTensor('f', 'images', null)).toThrow(/f: images must be a tf.Tensor; got null/);
  });

  it('refuses a disposed tensor instead of letting tfjs say "Tensor is disposed"', () => {
    const x = tf.zeros([1]);
    x.dispose();
    expect(() => checkTensor('f', 'x', x)).toThrow(/f: x must be a live tensor; got 'a disposed tensor'/);
  });

  it('refuses a wrong rank with the layout and the shape', () => {
    const x = tf.zeros([2, 3]);
    expect(() => checkTensor('gradCam', 'images', x, { rank: 4, layout: '[batch, height, width, channels]' })).toThrow(
      new ShapeError(
        'gradCam: images must have rank 4 [batch, height, width, channels]; got shape [2, 3]. ' +
          'Reshape it, or add the batch axis with tf.expandDims.',
      ),
    );
    expect(() => checkTensor('f', 'x', x, { rank: [3, 5] })).toThrow(/x must have rank 3 to 5; got shape \[2, 3\]/);
    x.dispose();
  });

  it('refuses a wrong dtype and an empty batch', () => {
    const ints = tf.zeros([2], 'int32');
    expect(() => checkTensor('f', 'x', ints, { dtypes: ['float32'] })).toThrow(
      /f: x must be of dtype float32; got 'int32'. Convert it with tf.cast\(x, 'float32'\)./,
    );
    const empty = tf.zeros([0, 3]);
    expect(() => checkTensor('f', 'x', empty, { nonEmpty: true })).toThrow(/f: x must not be empty; got shape \[0, 3\]/);
    tf.dispose([ints, empty]);
  });
});

describe('assertFinite', () => {
  it('counts NaN and infinite values in the message', async () => {
    const x = tf.tensor([1, NaN, Infinity, -Infinity, NaN, 2]);
    await expectNoLeaks(() => {
      expect(() => assertFinite('mcPredict', 'inputs', x)).toThrow(
        new DataError('mcPredict: inputs must be finite; got 2 NaN and 2 infinite of 6 values. Clean or impute the input first.'),
      );
    });
    x.dispose();
  });

  it('passes finite, integer and empty tensors without leaking', async () => {
    const tensors = [tf.tensor([1, -2, 3e38]), tf.tensor([1, 2], [2], 'int32'), tf.zeros([0, 4])];
    await expectNoLeaks(() => tensors.forEach((t) => assertFinite('f', 'x', t)));
    tf.dispose(tensors);
  });
});

describe('checkIndex, checkBoolean, checkOptions, checkModel', () => {
  it('checkIndex accepts 0..size-1 and refuses the rest', () => {
    expect(checkIndex('gradCam', 'classIdx', 6, 7)).toBe(6);
    expect(() => checkIndex('gradCam', 'classIdx', 7, 7)).toThrow(/gradCam: classIdx must be an integer >= 0 and <= 6; got 7/);
    expect(() => checkIndex('gradCam', 'classIdx', -1, 7)).toThrow(/got -1/);
    expect(() => checkIndex('gradCam', 'classIdx', '2', 7)).toThrow(/got '2'/);
    expect(() => checkIndex('f', 'i', 0, 0)).toThrow(/i must be an index into a non-empty axis/);
  });

  it('checkBoolean refuses truthy look-alikes', () => {
    expect(checkBoolean('f', 'useBias', false)).toBe(false);
    expect(() => checkBoolean('f', 'useBias', 'false')).toThrow(/f: useBias must be true or false; got 'false'/);
  });

  it('nearest picks the closest known name by edit distance, case-insensitively', () => {
    expect(nearest('sample', ['seed', 'samples', 'views'])).toBe('samples');
    expect(nearest('Seeds', ['samples', 'seed'])).toBe('seed');
    expect(nearest('clasIdx', ['layerName', 'classIdx'])).toBe('classIdx');
  });

  it('checkOptions refuses a misspelt option, naming the nearest and listing the known ones', () => {
    expect(checkOptions('mcPredict', undefined, ['samples'])).toEqual({});
    expect(checkOptions('mcPredict', { samples: 3 }, ['samples', 'seed'])).toEqual({ samples: 3 });
    expect(() => checkOptions('mcPredict', { sample: 3 }, ['samples', 'seed'])).toThrow(
      "mcPredict: options has unknown 'sample'; did you mean 'sample' → 'samples'? The known options are 'samples', 'seed'.",
    );
    expect(() => checkOptions('mcPredict', 5 as unknown as object, ['samples'])).toThrow(/options must be an object; got 5/);
  });

  it('checkModel accepts a layers model and refuses anything else', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    expect(checkModel('f', 'model', model)).toBe(model);
    expect(() => checkModel('f', 'model', {})).toThrow(/f: model must be a tf.LayersModel; got Object/);
    model.dispose();
  });
});
