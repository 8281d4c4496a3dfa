import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import {
  COLORMAPS,
  MCDropout,
  camCandidates,
  colormap,
  deletionCurve,
  findLayer,
  insertionCurve,
  localization,
  overlay,
  stochasticLayers,
  toBayesian,
} from '../../src';
import { attempt, fuzzParams, hasNonFinite, makeTensor, tensorSpec, wrongType } from './fuzz';

/**
 * Fuzzed calls of the explanation tools (colour maps, overlays, localization, faithfulness curves,
 * layer lookup) and of the model tools (MCDropout, toBayesian). Every call returns a result in the
 * documented range or throws the library's own error; nothing leaks.
 */

const SIZE = 6;
const model = tfl.sequential({
  layers: [
    tfl.layers.conv2d({ inputShape: [SIZE, SIZE, 3], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }) }),
    tfl.layers.flatten({}),
    tfl.layers.dropout({ rate: 0.3 }),
    tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head', kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }),
  ],
});
afterAll(() => model.dispose());

/** The smallest and largest value of a tensor, computed without leaking. */
const range = (t: tf.Tensor) => tf.tidy(() => (t.size === 0 ? [0, 0] : [tf.min(t).dataSync()[0], tf.max(t).dataSync()[0]]));

describe('colormap and overlay under fuzzed tensors', () => {
  it('colormap gives [...shape, 3] colours in [0, 1] for any numbers, or names its argument', () => {
    fc.assert(
      fc.property(tensorSpec({ maxRank: 3 }), fc.oneof(fc.constantFrom(...COLORMAPS), wrongType), (spec, name) => {
        const values = makeTensor(spec);
        const { result, error } = attempt(() => {
          const colours = colormap(values, name as never);
          return { colours, range: range(colours) };
        }, ({ colours }) => colours.dispose());
        values.dispose();
        if (!COLORMAPS.includes(name as never)) return expect(error?.message).toMatch(/^colormap: name must be one of/);
        expect(error).toBeUndefined();
        expect(result!.colours.shape).toEqual([...spec.shape, 3]);
        if (!hasNonFinite(spec)) {
          expect(result!.range[0]).toBeGreaterThanOrEqual(0);
          expect(result!.range[1]).toBeLessThanOrEqual(1);
        }
      }),
      fuzzParams(80),
    );
  });

  it('overlay gives an int32 RGB image in 0..255 of the image size, or refuses by name', () => {
    fc.assert(
      fc.property(tensorSpec({ minRank: 2, maxRank: 4, maxAxis: 5 }), tensorSpec({ minRank: 1, maxRank: 3, maxAxis: 5 }), fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), wrongType), (imageSpec, mapSpec, alpha) => {
        const [image, heatmap] = [makeTensor(imageSpec), makeTensor(mapSpec)];
        const { result, error } = attempt(() => {
          const blended = overlay(image as tf.Tensor3D, heatmap as tf.Tensor2D, { alpha: alpha as number });
          return { blended, range: range(blended) };
        }, ({ blended }) => blended.dispose());
        tf.dispose([image, heatmap]);
        if (error) return expect(error.message).toMatch(/^overlay: (image|heatmap|options\.alpha) must/);
        expect(result!.blended.dtype).toBe('int32');
        expect(result!.blended.shape).toEqual([imageSpec.shape[0], imageSpec.shape[1], 3]);
        if (!hasNonFinite(imageSpec) && !hasNonFinite(mapSpec) && imageSpec.dtype !== 'bool') {
          expect(result!.range[0]).toBeGreaterThanOrEqual(0);
          expect(result!.range[1]).toBeLessThanOrEqual(255);
        }
      }),
      fuzzParams(80),
    );
  });
});

describe('localization and faithfulness curves under fuzzed maps', () => {
  it('localization gives energy shares in [0, 1] and one hit per map, or refuses by name', () => {
    fc.assert(
      fc.property(tensorSpec({ minRank: 2, maxRank: 4, maxAxis: 4, dtypes: ['float32'] }), fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 3 }), wrongType), (spec, sameShape, tolerance) => {
        const maps = tf.tidy(() => tf.abs(makeTensor(spec)));
        const masks = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform(sameShape ? spec.shape : [1, 2, 2], 0, 1, 'float32', spec.seed), 0.5), 'float32'));
        const { result, error } = attempt(() => localization(maps as tf.Tensor3D, masks as tf.Tensor3D, { tolerance: tolerance as number }), () => undefined);
        tf.dispose([maps, masks]);
        if (error) return expect(error.message).toMatch(/^localization: (maps|masks|options\.tolerance) must/);
        expect(result!.pointingHit).toHaveLength(spec.shape[0]);
        if (!hasNonFinite(spec)) result!.energyInside.forEach((share) => expect(share >= 0 && share <= 1).toBe(true));
      }),
      fuzzParams(60),
    );
  });

  it('deletion and insertion curves have steps + 1 points and scores in [0, 1], or refuse by name', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(deletionCurve, insertionCurve),
        fc.integer({ min: 1, max: 2 }),
        fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 3 }, wrongType),
        fc.oneof({ arbitrary: fc.constantFrom('zero', 'blur', 'mean'), weight: 3 }, wrongType),
        fc.oneof(fc.constant(true), fc.constant(false)),
        (curve, batch, steps, baseline, mapsFit) => {
          const images = tf.randomUniform([batch, SIZE, SIZE, 3], 0, 1, 'float32', batch);
          const maps = tf.randomUniform(mapsFit ? [batch, SIZE, SIZE] : [batch, SIZE - 1, SIZE], 0, 1, 'float32', 2);
          const { result, error } = attempt(() => curve(model, 'predicted', images as tf.Tensor4D, maps as tf.Tensor3D, { steps: steps as number, baseline: baseline as never }), () => undefined);
          tf.dispose([images, maps]);
          if (error) return expect(error.message).toMatch(/^(deletion|insertion)Curve: (maps|options\.steps|options\.baseline) must/);
          expect(result!.fractions).toHaveLength((steps as number) + 1);
          result!.scores.flat().forEach((score) => expect(score >= 0 && score <= 1).toBe(true));
        },
      ),
      fuzzParams(30),
    );
  });

  it('findLayer finds every layer by name and refuses any other name by name', () => {
    const names = model.layers.map((layer) => layer.name);
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 }), wrongType), (name) => {
        const { result, error } = attempt(() => findLayer(model, name as string), () => undefined);
        if (names.includes(name as string)) expect(result?.name).toBe(name);
        else expect(error?.message).toMatch(/^findLayer: /);
      }),
      fuzzParams(60),
    );
    expect(camCandidates(model)).toEqual(['conv']);
  });
});

describe('MCDropout and toBayesian under fuzzed options', () => {
  it('MCDropout accepts a rate in [0, 1) and keeps the mean of its input, or names a wrong option', () => {
    fc.assert(
      fc.property(fc.oneof({ arbitrary: fc.double({ min: 0, max: 0.9, noNaN: true }), weight: 3 }, wrongType), fc.oneof(fc.constantFrom(undefined, 'sample', 'mean'), wrongType), (rate, mode) => {
        const x = tf.ones([64, 16]);
        const { result, error } = attempt(() => {
          const layer = new MCDropout({ rate: rate as number, mode: mode as never, seed: 1 });
          return tf.tidy(() => tf.mean(layer.apply(x) as tf.Tensor).dataSync()[0]);
        }, () => undefined);
        x.dispose();
        if (error) return expect(error.message).toMatch(/^MCDropout(?: '[^']*')?: (rate|mode|seed) must/);
        // Inverted dropout: E[mask / (1 − rate)] = 1; 1024 draws keep the mean within 5 standard errors.
        const r = rate as number;
        const bound = 5 * Math.sqrt(r / (1 - r) / 1024) + 1e-6;
        expect(Math.abs(result! - 1)).toBeLessThanOrEqual(bound);
      }),
      fuzzParams(60),
    );
  });

  it('toBayesian keeps the output shape and makes the chosen layers stochastic, or names a wrong option', () => {
    const mostlyValid = (valid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: wrongType, weight: 1 });
    const options = fc.record(
      {
        estimator: mostlyValid(fc.constantFrom('flipout', 'sample', 'local')),
        klWeight: mostlyValid(fc.double({ min: 0, max: 1, noNaN: true })),
        delta: mostlyValid(fc.double({ min: 0, max: 1, noNaN: true })),
        dropout: mostlyValid(fc.constantFrom('keep', 'mc')),
        seed: mostlyValid(fc.integer()),
        typo: fc.constantFrom(undefined, undefined, undefined, 1),
      },
      { requiredKeys: [] },
    );
    let converted = 0;
    fc.assert(
      fc.property(options, (opts) => {
        const x = tf.ones([2, SIZE, SIZE, 3]);
        const { result, error } = attempt(() => {
          const converted = toBayesian(model, opts as never);
          const y = tf.tidy(() => converted.predict(x) as tf.Tensor);
          const out = { shape: y.shape, stochastic: stochasticLayers(converted).length };
          y.dispose();
          converted.dispose();
          return out;
        }, () => undefined);
        x.dispose();
        if (error) return expect(error.message).toMatch(/^toBayesian: (options|model|layer)/);
        converted += 1;
        expect(result!.shape).toEqual([2, 3]);
        expect(result!.stochastic).toBeGreaterThanOrEqual(1);
      }),
      fuzzParams(40),
    );
    expect(converted).toBeGreaterThan(0);
  });
});
