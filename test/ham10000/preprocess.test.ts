import * as tf from '@tensorflow/tfjs-core';
import { augment, IMAGENET_BGR_MEANS, vggPreprocess } from '../../src/ham10000/preprocess';
import { expectNoLeaks } from '../helpers';

describe('vggPreprocess', () => {
  it('swaps RGB to BGR and subtracts the ImageNet means, pixel by pixel', async () => {
    const rgb = tf.tensor4d([10, 20, 30, 255, 0, 128], [1, 1, 2, 3]);
    await expectNoLeaks(() => {
      const out = vggPreprocess(rgb);
      // Pixel 1 BGR = (30, 20, 10); pixel 2 BGR = (128, 0, 255).
      const expected = [30 - 103.939, 20 - 116.779, 10 - 123.68, 128 - 103.939, 0 - 116.779, 255 - 123.68];
      Array.from(out.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expected[i], 4));
      expect(out.shape).toEqual([1, 1, 2, 3]);
      return out;
    });
    expect(IMAGENET_BGR_MEANS).toEqual([103.939, 116.779, 123.68]);
    rgb.dispose();
  });

  it('rejects a single image or a non-RGB batch with the fix', () => {
    const image = tf.zeros([4, 4, 3]);
    expect(() => vggPreprocess(image as tf.Tensor4D)).toThrow(
      'vggPreprocess: images must be a batch of RGB images [batch, height, width, 3]; got shape [4, 4, 3]. Add a batch axis with tf.expandDims(image, 0) for a single image.',
    );
    image.dispose();
  });
});

/** Every flip/rotation of one [h, w, c] image as nested arrays, for comparison. */
function symmetries(image: number[][][], square: boolean): string[] {
  const rotate = (m: number[][][]): number[][][] => m[0].map((_, x) => m.map((row) => row[row.length - 1 - x]));
  const mirror = (m: number[][][]): number[][][] => m.map((row) => row.slice().reverse());
  const out: number[][][][] = [];
  for (const start of [image, mirror(image)]) {
    let current = start;
    for (let turn = 0; turn < 4; turn++) {
      if (square || turn % 2 === 0) out.push(current);
      current = rotate(current);
    }
  }
  return out.map((m) => JSON.stringify(m));
}

describe('augment', () => {
  const batch = (height: number, width: number): tf.Tensor4D =>
    tf.tensor4d(Array.from({ length: 6 * height * width * 3 }, (_, i) => i), [6, height, width, 3]);

  it('maps each image to one of its 8 symmetries (square): a pure permutation of its pixels', () => {
    const images = batch(3, 3);
    const inputs = images.arraySync();
    const before = tf.memory().numTensors;
    const out = augment(images, { seed: 4 });
    expect(tf.memory().numTensors).toBe(before + 1); // the result, nothing else
    const outputs = out.arraySync();
    outputs.forEach((image, i) => expect(symmetries(inputs[i], true)).toContain(JSON.stringify(image)));
    // Over the batch, at least two different symmetries were used.
    expect(new Set(outputs.map((image, i) => symmetries(inputs[i], true).indexOf(JSON.stringify(image)))).size).toBeGreaterThan(1);
    tf.dispose([images, out]);
  });

  it('keeps the shape of non-square images: mirror and 180° only', () => {
    const images = batch(2, 4);
    const inputs = images.arraySync();
    const out = augment(images, { seed: 11 });
    expect(out.shape).toEqual([6, 2, 4, 3]);
    out.arraySync().forEach((image, i) => expect(symmetries(inputs[i], false)).toContain(JSON.stringify(image)));
    tf.dispose([images, out]);
  });

  it('is seeded: the same seed repeats, another seed differs', () => {
    const images = batch(3, 3);
    const [a, b, c] = [augment(images, { seed: 1 }), augment(images, { seed: 1 }), augment(images, { seed: 2 })];
    expect(a.arraySync()).toEqual(b.arraySync());
    expect(a.arraySync()).not.toEqual(c.arraySync());
    tf.dispose([images, a, b, c]);
  });

  it('is the identity with flips and rotations off, and only mirrors with rotations off', () => {
    const images = batch(3, 3);
    const inputs = images.arraySync();
    const same = augment(images, { seed: 3, flip: false, rotate: false });
    expect(same.arraySync()).toEqual(inputs);
    const mirrored = augment(images, { seed: 3, rotate: false });
    mirrored.arraySync().forEach((image, i) => {
      const [identity, , , , mirror] = symmetries(inputs[i], true);
      expect([identity, mirror]).toContain(JSON.stringify(image));
    });
    tf.dispose([images, same, mirrored]);
  });

  it('requires an integer seed', () => {
    const images = batch(2, 2);
    expect(() => augment(images, {} as { seed: number })).toThrow('augment: options.seed must be an integer; got undefined.');
    images.dispose();
  });
});
