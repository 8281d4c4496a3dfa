import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SeedStream } from '../../src';

/**
 * Reading the golden fixtures written by `scripts/golden/make_fixtures.py` (TFP and Keras run in
 * Python; see docs/parity.md). The tests only read the committed JSON: Python is never needed.
 */

/** Tolerance of every parity check: 1e-5, relative to the expected tensor's scale (see `expectClose`). */
export const PARITY_TOLERANCE = 1e-5;

export type Nested = number | Nested[];

/** What every fixture file records besides its cases. */
export interface Fixture<C> {
  description: string;
  generator: string;
  versions: Record<string, string>;
  cases: C[];
}

export function loadFixture<C>(filename: string): Fixture<C> {
  const file = path.join(__dirname, '..', 'fixtures', filename);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Fixture<C>;
}

/**
 * Expects `actual` to match `expected` to tolerance · scale elementwise (default PARITY_TOLERANCE),
 * where scale is `max(floor, max |expected|)`: absolute for values of order one, relative to the
 * tensor's largest value where values are large (a float32 sum's rounding grows with its terms,
 * not its result). `floor` 0 makes it purely relative, for tensors of tiny values.
 */
export function expectClose(actual: tf.Tensor, expected: tf.Tensor | Nested, { floor = 1, tolerance = PARITY_TOLERANCE } = {}): void {
  const [shape, error, scale] = tf.tidy(() => {
    const want = expected instanceof tf.Tensor ? expected : tf.tensor(expected as number[]);
    const difference = actual.size === want.size ? tf.max(tf.abs(tf.sub(actual, want))).dataSync()[0] : NaN;
    return [want.shape, difference, Math.max(floor, tf.max(tf.abs(want)).dataSync()[0])] as const;
  });
  expect(actual.shape).toEqual(shape);
  expect(error).toBeLessThanOrEqual(tolerance * scale);
}

/** A fixture case's model rebuilt with tfjs-layers and its images, alive while the case's tests run. */
export interface Rebuilt {
  model: tfl.LayersModel;
  images: tf.Tensor4D;
}

/**
 * Registers, inside a case's `describe`, the building of its model and images before its tests,
 * their disposal after, and a first test that the rebuilt model gives the reference's logits.
 */
export function rebuildCase<C extends { images: Nested; logits: Nested }>(c: C, build: (c: C) => tfl.LayersModel, reference: string): Rebuilt {
  const rebuilt = {} as Rebuilt;
  beforeAll(() => {
    rebuilt.model = build(c);
    rebuilt.images = tf.tensor(c.images as number[]) as tf.Tensor4D;
  });
  afterAll(() => {
    rebuilt.model.dispose();
    rebuilt.images.dispose();
  });
  it(`the rebuilt tfjs model gives the ${reference} logits`, () => {
    const logits = rebuilt.model.predict(rebuilt.images) as tf.Tensor;
    expectClose(logits, c.logits);
    logits.dispose();
  });
  return rebuilt;
}

/**
 * Replays the fixture's noise: each `normal` or `rademacher` draw takes the next tensor of its
 * kind, and fails loudly if the library asks for a shape TFP did not draw.
 */
export class RecordedNoise extends SeedStream {
  private readonly queues: Record<'normal' | 'rademacher', tf.Tensor[]>;

  constructor(normal: tf.Tensor[], rademacher: tf.Tensor[]) {
    super(undefined, 'RecordedNoise');
    this.queues = { normal, rademacher };
  }

  override normal(shape: number[]): tf.Tensor {
    return this.take('normal', shape);
  }

  override rademacher(shape: number[]): tf.Tensor {
    return this.take('rademacher', shape);
  }

  private take(kind: 'normal' | 'rademacher', shape: number[]): tf.Tensor {
    const next = this.queues[kind].shift();
    if (!next || next.shape.join() !== shape.join()) {
      throw new Error(`RecordedNoise: ${kind}([${shape}]) drawn, but the fixture has ${next ? `[${next.shape}]` : 'no more'}`);
    }
    return next;
  }
}
