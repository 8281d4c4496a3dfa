import * as tf from '@tensorflow/tfjs-core';
import { dihedralTransform, dihedralViews } from '../../src';
import { expectNoLeaks } from '../helpers';

/** Reference rotation of one [H][W] plane counter-clockwise by a quarter turn: out[i][j] = in[j][W − 1 − i]. */
const quarterTurn = (plane: number[][]): number[][] => plane[0].map((_, i) => plane.map((row) => row[plane[0].length - 1 - i]));
const mirror = (plane: number[][]): number[][] => plane.map((row) => [...row].reverse());

/** A single-channel batch of one image from a plane. */
const batchOf = (plane: number[][]) => tf.tensor4d(plane.flat(), [1, plane.length, plane[0].length, 1]);
const planeOf = (images: tf.Tensor) => tf.tidy(() => (tf.squeeze(images, [0, 3]) as tf.Tensor2D).arraySync());

describe('dihedralTransform', () => {
  const plane = [
    [1, 2, 3],
    [4, 5, 6],
  ];

  it('mirrors left-right, then turns counter-clockwise, as the reference rotation of the plane', () => {
    let mirrored = mirror(plane);
    let turned = plane;
    for (let turns = 0; turns < 4; turns++) {
      tf.tidy(() => {
        expect(planeOf(dihedralTransform(batchOf(plane), true, turns))).toEqual(mirrored);
        expect(planeOf(dihedralTransform(batchOf(plane), false, turns))).toEqual(turned);
      });
      mirrored = quarterTurn(mirrored);
      turned = quarterTurn(turned);
    }
  });

  it('refuses a batch that is not rank 4 and a turn count outside 0..3, leaking nothing', async () => {
    await expectNoLeaks(() => {
      const image = tf.zeros([2, 2, 3]) as unknown as tf.Tensor4D;
      expect(() => dihedralTransform(image, false, 1)).toThrow(
        'dihedralTransform: images must be a batch [batch, height, width, channels]; got shape [2, 2, 3]. Add a batch axis with tf.expandDims(image, 0) for a single image.',
      );
      const square = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
      expect(() => dihedralTransform(square, false, 4)).toThrow(/dihedralTransform: turns must be .*4/);
      tf.dispose([image, square]);
    });
  });
});

describe('dihedralViews', () => {
  it('gives the 8 symmetries of the square, identity first, each a permutation of the pixels, all distinct', async () => {
    const plane = [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ];
    const views = dihedralViews();
    expect(views).toHaveLength(8);
    const planes = await expectNoLeaks(() => {
      const x = batchOf(plane);
      const out = views.map((view) => tf.tidy(() => planeOf(view(x))));
      x.dispose();
      return out;
    });
    expect(planes[0]).toEqual(plane);
    planes.forEach((p) => expect(p.flat().sort()).toEqual(plane.flat()));
    expect(new Set(planes.map((p) => JSON.stringify(p))).size).toBe(8);
    // Closed under composition: a view of a view is one of the 8.
    const x = batchOf(plane);
    const composed = tf.tidy(() => planeOf(views[3](views[5](x))));
    expect(planes.map((p) => JSON.stringify(p))).toContain(JSON.stringify(composed));
    x.dispose();
  });

  it('refuses non-square images, saying to make them square', () => {
    const x = tf.zeros([1, 2, 3, 3]);
    expect(() => dihedralViews()[2](x)).toThrow(
      'dihedralViews: images must be square batches [batch, side, side, channels] to be rotated; got shape [1, 2, 3, 3]. Resize or crop them to a square first.',
    );
    x.dispose();
  });
});
