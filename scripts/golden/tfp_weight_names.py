"""Golden fixture for loading a TFP model's weights by name (tfjs-trust's `fromTfpWeightNames`).

A small tf_keras Sequential, Dense → tfp.layers.DenseFlipout → tfp.layers.DenseReparameterization
(the last with a Gaussian bias posterior, so every TFP variable kind appears), is built with TFP's
own initialisers; its variables are written under TFP's names (`dense_flipout/kernel_posterior_loc:0`,
`…/kernel_posterior_untransformed_scale:0`, `…/bias_posterior_loc:0`, …) with an input batch, the
posterior-mean output (every posterior tensor set to its mean) and each layer's kernel sigma.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from fixture_io import to_json, write_fixture


def mean(distribution):
    return distribution.mean()


def write(seed=11):
    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras.Sequential([
        keras.layers.Dense(5, activation='relu', name='dense', input_shape=(4,)),
        tfp.layers.DenseFlipout(3, activation='relu', name='dense_flipout', kernel_posterior_tensor_fn=mean),
        tfp.layers.DenseReparameterization(
            2,
            name='dense_reparameterization',
            kernel_posterior_tensor_fn=mean,
            bias_posterior_fn=tfp.layers.util.default_mean_field_normal_fn(),
            bias_posterior_tensor_fn=mean,
        ),
    ])
    x = rng.standard_normal((3, 4)).astype(np.float32)
    output = model(x).numpy()
    sigmas = {layer.name: tf.convert_to_tensor(layer.kernel_posterior.distribution.scale).numpy() for layer in model.layers[1:]}
    weights = {variable.name: to_json(variable) for variable in model.weights}
    assert any(name.endswith('bias_posterior_untransformed_scale:0') for name in weights), sorted(weights)
    write_fixture(
        'tfp_weight_names.json',
        'tfp_weight_names.py',
        'A tf_keras model of Dense, tfp.layers.DenseFlipout and DenseReparameterization (Gaussian bias): its '
        'variables under their TFP names, an input, the posterior-mean output and each kernel sigma.',
        [{'name': 'dense_flipout_reparameterization', 'weights': weights, 'x': to_json(x), 'output': to_json(output), 'sigma': {k: to_json(v) for k, v in sigmas.items()}}],
    )


if __name__ == '__main__':
    write()
