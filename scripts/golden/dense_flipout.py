"""Golden DenseFlipout fixtures from TFP's own `tfp.layers.DenseFlipout`, with noise we choose.

TFP's layer draws two kinds of noise on each call (tensorflow_probability/python/layers/
dense_variational.py, `DenseFlipout._apply_variational_kernel`):
- the weight perturbation ΔW, as `kernel_posterior_tensor_fn(Normal(0, sigma))`, by default
  `d.sample()`. We pass, through that public constructor argument, the same reparameterised sample
  with a fixed standard normal ε: `d.loc + d.stddev() * ε` (loc is 0 there, so ΔW = sigma ⊙ ε);
- the sign vectors, from `tfp.random.rademacher(shape)`: first the input signs (shape of x), then
  the output signs (shape of the output). We patch that function, as the layer's module sees it,
  with one that hands out our signs in that order and checks each requested shape.
The output is then a deterministic function of (loc, rho, bias, x, ε, signs), and we check it
against Wen et al. 2018, eq. 4 computed in numpy before writing it, so a TFP that stopped using
our noise could not slip through.
"""

import contextlib
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.layers import dense_variational

from fixture_io import to_json, write_fixture

# Cases: (name, batch shape, input dim, units, activation, scales). `large` has inputs and means
# ~100x bigger (relative tolerance in the tests); its rho spans [-20, 3] so sigma runs from the
# float32-epsilon floor to ~3.
CASES = [
    ('small', [4], 5, 3, None, {'x': 1.0, 'loc': 0.5, 'rho': (-4.0, 0.5)}),
    ('relu', [3], 6, 4, 'relu', {'x': 1.0, 'loc': 0.5, 'rho': (-2.0, 1.0)}),
    ('large', [3], 16, 8, None, {'x': 100.0, 'loc': 2.0, 'rho': (-20.0, 3.0)}),
    ('rank3', [2, 3], 4, 2, None, {'x': 1.0, 'loc': 0.5, 'rho': (-3.0, 0.5)}),
]


@contextlib.contextmanager
def fixed_signs(signs, module=dense_variational):
    """Makes `tfp.random.rademacher`, as the layers of `module` see it, return `signs` in order."""
    queue = list(signs)

    def rademacher(shape, dtype=tf.float32, seed=None, name=None):
        del seed, name  # Our signs replace the seeded draw.
        expected = queue.pop(0)
        assert list(np.asarray(shape)) == list(expected.shape), (shape, expected.shape)
        return tf.constant(expected, dtype=dtype)

    with mock.patch.object(module.tfp_random, 'rademacher', rademacher):
        yield
    assert not queue, 'the layer drew fewer sign vectors than given'


def draw_case(rng, batch_shape, in_dim, units, scales):
    """The layer's parameters, an input batch and the noise, as float32 arrays."""
    rho_low, rho_high = scales['rho']

    def normal(shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def signs(shape):
        return rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=shape)

    return {
        'loc': normal([in_dim, units], scales['loc']),
        'rho': rng.uniform(rho_low, rho_high, [in_dim, units]).astype(np.float32),
        'bias': normal([units], scales['loc']),
        'x': normal(batch_shape + [in_dim], scales['x']),
        'epsilon': normal([in_dim, units]),
        'signIn': signs(batch_shape + [in_dim]),
        'signOut': signs(batch_shape + [units]),
    }


def run_tfp(case, units, activation):
    """TFP's DenseFlipout on the case's input with the case's noise: output, sigma, KL."""
    epsilon = tf.constant(case['epsilon'])
    layer = tfp.layers.DenseFlipout(
        units,
        activation=activation,
        kernel_posterior_tensor_fn=lambda d: d.loc + d.stddev() * epsilon,
    )
    layer.build(case['x'].shape)
    layer.set_weights([case['loc'], case['rho'], case['bias']])
    with fixed_signs([case['signIn'], case['signOut']]):
        output = layer(case['x'])
    (kl,) = layer.losses
    sigma = tf.convert_to_tensor(layer.kernel_posterior.distribution.scale)
    return output.numpy(), sigma.numpy(), kl.numpy()


def wen_eq4(case, sigma, activation):
    """Wen et al. 2018, eq. 4 in float64 numpy: x·loc + ((x ⊙ s_in)·(sigma ⊙ ε)) ⊙ s_out + b."""
    x, loc = case['x'].astype(np.float64), case['loc'].astype(np.float64)
    delta = sigma.astype(np.float64) * case['epsilon']
    y = x @ loc + ((x * case['signIn']) @ delta) * case['signOut'] + case['bias']
    return np.maximum(y, 0) if activation == 'relu' else y


def make_cases(seed=7):
    rng = np.random.default_rng(seed)
    cases = []
    for name, batch_shape, in_dim, units, activation, scales in CASES:
        case = draw_case(rng, batch_shape, in_dim, units, scales)
        output, sigma, kl = run_tfp(case, units, activation)
        expected_sigma = np.logaddexp(0, case['rho'].astype(np.float64)) + np.finfo(np.float32).eps
        np.testing.assert_allclose(sigma, expected_sigma, rtol=1e-6)
        np.testing.assert_allclose(output, wen_eq4(case, sigma, activation), rtol=1e-5, atol=1e-4)
        cases.append({
            'name': name,
            'units': units,
            'activation': activation or 'linear',
            **{key: to_json(value) for key, value in case.items()},
            'output': to_json(output),
            'sigma': to_json(sigma),
            'kl': to_json(kl),
        })
    return cases


def write():
    write_fixture(
        'tfp_dense_flipout.json',
        'dense_flipout.py',
        'tfp.layers.DenseFlipout driven with fixed weight noise epsilon and sign vectors: its output, '
        'sigma = softplus(rho) + float32 eps, and KL(posterior || N(0, 1)) from layer.losses. '
        'Weights are set as [kernel loc, kernel rho (untransformed scale), bias].',
        make_cases(),
    )

