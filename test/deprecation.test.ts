import * as tf from '@tensorflow/tfjs-core';
import { deletionCurve, insertionCurve, mcPredict } from '../src';
import { resetDeprecationNotices } from '../src/deprecation';
import { gapModel, images } from './explain/models';

/** The 0.1 call forms keep working until 0.3.0, with one notice each (docs/conventions.md, "Deprecated forms"). */
describe('deprecated forms', () => {
  const model = gapModel({ softmax: true });
  const x = images(2);
  const maps = tf.randomUniform([2, 8, 8], 0, 1, 'float32', 4) as tf.Tensor3D;
  let warn: jest.SpyInstance;
  beforeEach(() => {
    resetDeprecationNotices();
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());
  afterAll(() => tf.dispose([x, maps]));

  it.each([
    ['deletionCurve', deletionCurve],
    ['insertionCurve', insertionCurve],
  ] as const)('%s(model, images, maps, classIdx) gives the new form’s curve and warns once', (who, curve) => {
    const current = curve(model, [0, 2], x, maps, { steps: 4 });
    expect(warn).not.toHaveBeenCalled();
    const old = curve(model, x, maps, [0, 2], { steps: 4 });
    expect(old).toEqual(current);
    curve(model, x, maps, 'predicted', { steps: 2 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toBe(
      `tfjs-trust: ${who}(model, images, maps, classIdx, options) is deprecated and will be removed in 0.3.0; use ${who}(model, classIdx, images, maps, options).`,
    );
  });

  it("mcPredict outputs 'logits' / 'probabilities' mean 'logit' / 'probability', with one notice each", () => {
    const logits = gapModel({ softmax: false });
    const mean = (outputs: string) => {
      const prediction = mcPredict(logits, x, { samples: 2, seed: 3, outputs: outputs as never });
      const values = prediction.mean.arraySync();
      prediction.dispose();
      return values;
    };
    expect(mean('logits')).toEqual(mean('logit'));
    expect(mean('probabilities')).toEqual(mean('probability'));
    mean('logits');
    expect(warn.mock.calls.map(([message]) => message)).toEqual([
      "tfjs-trust: mcPredict option outputs: 'logits' is deprecated and will be removed in 0.3.0; use outputs: 'logit'.",
      "tfjs-trust: mcPredict option outputs: 'probabilities' is deprecated and will be removed in 0.3.0; use outputs: 'probability'.",
    ]);
  });
});
