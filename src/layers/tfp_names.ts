import type * as tf from '@tensorflow/tfjs-core';

/**
 * This library's variational weight names and TFP's (tfp.layers `*Flipout`, `*Reparameterization`,
 * `*LocalReparameterization`: `default_mean_field_normal_fn`'s variables). The values are the same
 * quantities: TFP's untransformed scale is our rho, sigma = softplus(rho) + float32 eps in both.
 */
export const TFP_WEIGHT_NAMES: Readonly<Record<string, string>> = {
  kernel_loc: 'kernel_posterior_loc',
  kernel_rho: 'kernel_posterior_untransformed_scale',
  bias_loc: 'bias_posterior_loc',
  bias_rho: 'bias_posterior_untransformed_scale',
};

const TO_TFP = new Map(Object.entries(TFP_WEIGHT_NAMES));
const FROM_TFP = new Map(Object.entries(TFP_WEIGHT_NAMES).map(([ours, tfp]) => [tfp, ours]));

/**
 * Renames weights saved under TFP's variable names (`dense_flipout/kernel_posterior_loc:0`, the
 * `:0` optional) to this library's (`dense_flipout/kernel_loc`), so `model.loadWeights(renamed)`
 * loads a TFP model's weights by name. Other names (a plain Dense's `kernel`) only lose the `:0`.
 */
export function fromTfpWeightNames(weights: tf.NamedTensorMap): tf.NamedTensorMap {
  return renameOwn(weights, FROM_TFP, (key) => key.replace(/:\d+$/, ''));
}

/** The reverse of `fromTfpWeightNames`: this library's names as TFP's (without the `:0`). */
export function toTfpWeightNames(weights: tf.NamedTensorMap): tf.NamedTensorMap {
  return renameOwn(weights, TO_TFP, (key) => key);
}

/** Renames the last path segment of every key (the weight's own name; the rest is the layer's path). */
function renameOwn(weights: tf.NamedTensorMap, names: ReadonlyMap<string, string>, clean: (key: string) => string): tf.NamedTensorMap {
  return Object.fromEntries(
    Object.entries(weights).map(([key, tensor]) => {
      const path = clean(key).split('/');
      const own = path.pop()!;
      return [[...path, names.get(own) ?? own].join('/'), tensor];
    }),
  );
}
