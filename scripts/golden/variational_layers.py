"""Golden fixtures for the 1-D/3-D variational convolutions and DenseVariationalV2, from TFP's layers.

Conv cases (`tfp_conv_variational.json`): `tfp.layers.Convolution{1,3}D{Flipout,Reparameterization}`
with fixed weights record
- the KL from `layer.losses` (KL(posterior || N(0, 1)), closed form in TFP);
- the mean output, with `kernel_posterior_tensor_fn = mean` (for Flipout the perturbation's mean, 0);
- one sampled output with noise we choose, as dense_flipout.py does: the weight noise ε through
  `kernel_posterior_tensor_fn` (`d.loc + d.stddev() * ε`), the sign vectors by patching
  `tfp.random.rademacher` as conv_variational.py sees it (input signs first; TFP draws them
  [batch, channels] and broadcasts them over space, the fixture stores them [batch, 1.., channels]);
- the output moments over SAMPLES calls with TFP's own random noise (mean and variance per element).

DenseVariationalV2 cases (`tfp_dense_variational_v2.json`): `tfp.layers.DenseVariational` with
`make_posterior_fn` / `make_prior_fn` returning the same Gaussians as tfjs-trust's families
(mean field: MultivariateNormalDiag; full covariance: MultivariateNormalTriL; low rank:
MultivariateNormalDiagPlusLowRankCovariance, whose covariance TFP's own class computes; prior: a
diagonal MultivariateNormalDiag) and `kl_use_exact=True`. TFP registers no KL for the low-rank
class, so for the layer run it is passed as the MultivariateNormalTriL with the Cholesky factor of
that covariance (the same distribution). Recorded: the KL from `layer.losses`, the mean output
(`convert_to_tensor_fn = mean`), and the exact output moments, mean a·μ and variance aᵀΣa from
TFP's `q.mean()` and `q.covariance()`.

Every KL is checked against the Gaussian closed form in float64 numpy before it is written.
"""

import contextlib

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.layers import conv_variational
import tf_keras

from dense_flipout import fixed_signs
from fixture_io import to_json, write_fixture

tfd = tfp.distributions
EPS = np.finfo(np.float32).eps
SAMPLES = 4000

# (name, TFP class, estimator, batch + spatial input shape, channels, geometry)
CONV_CASES = [
    ('conv1d_flipout', tfp.layers.Convolution1DFlipout, 'flipout', [3, 7], 2,
     {'filters': 3, 'kernel_size': 3, 'strides': 2, 'padding': 'same', 'dilation_rate': 1}),
    ('conv1d_reparameterization', tfp.layers.Convolution1DReparameterization, 'sample', [2, 9], 2,
     {'filters': 2, 'kernel_size': 2, 'strides': 1, 'padding': 'valid', 'dilation_rate': 2}),
    ('conv3d_flipout', tfp.layers.Convolution3DFlipout, 'flipout', [2, 3, 4, 3], 2,
     {'filters': 2, 'kernel_size': [2, 2, 1], 'strides': [1, 2, 1], 'padding': 'same', 'dilation_rate': 1}),
    ('conv3d_reparameterization', tfp.layers.Convolution3DReparameterization, 'sample', [2, 4, 3, 3], 1,
     {'filters': 2, 'kernel_size': 2, 'strides': 1, 'padding': 'valid', 'dilation_rate': [2, 1, 1]}),
]

# (name, posterior, rank, prior, use_bias): inputs 3, units 2, a batch of 4.
DENSE_CASES = [
    ('meanField_fixedNormal', 'meanField', 0, 'fixedNormal', True),
    ('fullCovariance_fixedNormal', 'fullCovariance', 0, 'fixedNormal', True),
    ('lowRank_learnableNormal', 'lowRank', 2, 'learnableNormal', True),
    ('fullCovariance_learnableNormal_noBias', 'fullCovariance', 0, 'learnableNormal', False),
]
INPUTS, UNITS, BATCH = 3, 2, 4
FIXED_PRIOR = {'mean': 0.2, 'stddev': 1.5}


def softplus(x):
    return np.logaddexp(0, np.asarray(x, np.float64))


def normal_kl(loc, sigma, mean=0.0, stddev=1.0):
    """Σ KL(N(loc, σ²) || N(mean, stddev²)) in float64."""
    loc, sigma = np.asarray(loc, np.float64), np.asarray(sigma, np.float64)
    return np.sum(np.log(stddev / sigma) + (sigma ** 2 + (loc - mean) ** 2) / (2 * stddev ** 2) - 0.5)


def conv_case(rng, name, cls, estimator, shape, channels, geometry):
    x = rng.standard_normal(shape + [channels]).astype(np.float32)
    layer = cls(**geometry)
    layer.build(x.shape)
    kernel_shape = layer.weights[0].shape.as_list()
    loc = (rng.standard_normal(kernel_shape) * 0.5).astype(np.float32)
    rho = rng.uniform(-2.5, 0.0, kernel_shape).astype(np.float32)
    bias = (rng.standard_normal([geometry['filters']]) * 0.5).astype(np.float32)
    weights = [loc, rho, bias]

    def run(tensor_fn, signs=()):
        tfp_layer = cls(**geometry, kernel_posterior_tensor_fn=tensor_fn)
        tfp_layer.build(x.shape)
        tfp_layer.set_weights(weights)
        with fixed_signs(signs, conv_variational) if signs else contextlib.nullcontext():
            output = tfp_layer(x)
        (kl,) = tfp_layer.losses
        return output.numpy(), kl.numpy()

    mean_output, kl = run(lambda d: d.mean())
    np.testing.assert_allclose(kl, normal_kl(loc, softplus(rho) + EPS), rtol=1e-5)

    epsilon = rng.standard_normal(kernel_shape).astype(np.float32)
    batch, spatial = shape[0], len(shape) - 1
    signs = [rng.choice(np.array([-1.0, 1.0], np.float32), size=[batch, c]) for c in (channels, geometry['filters'])]
    sampled, _ = run(lambda d: d.mean() + d.stddev() * epsilon, signs if estimator == 'flipout' else ())

    sampler = cls(**geometry)
    sampler.build(x.shape)
    sampler.set_weights(weights)
    call = tf.function(lambda: sampler(x))
    draws = np.stack([call().numpy() for _ in range(SAMPLES)]).astype(np.float64)

    as_broadcast = lambda s: s.reshape([batch] + [1] * spatial + [s.shape[-1]])
    return {
        'name': name,
        'className': ('Conv%dD' % spatial) + ('Flipout' if estimator == 'flipout' else 'Reparameterization'),
        'geometry': {
            'filters': geometry['filters'],
            'kernelSize': geometry['kernel_size'],
            'strides': geometry['strides'],
            'padding': geometry['padding'],
            'dilationRate': geometry['dilation_rate'],
        },
        'x': to_json(x),
        'loc': to_json(loc),
        'rho': to_json(rho),
        'bias': to_json(bias),
        'kl': to_json(kl),
        'meanOutput': to_json(mean_output),
        'epsilon': to_json(epsilon),
        'signIn': to_json(as_broadcast(signs[0])) if estimator == 'flipout' else None,
        'signOut': to_json(as_broadcast(signs[1])) if estimator == 'flipout' else None,
        'sampledOutput': to_json(sampled),
        'samples': SAMPLES,
        'sampleMean': to_json(draws.mean(0)),
        'sampleVariance': to_json(draws.var(0, ddof=1)),
    }


def dense_params(rng, posterior, rank, prior, size):
    params = {
        'loc': (rng.standard_normal(size) * 0.5).astype(np.float32),
        'rho': rng.uniform(-2.0, 0.0, size).astype(np.float32),
    }
    if posterior == 'fullCovariance':
        params['scaleTril'] = (rng.standard_normal([size, size]) * 0.3).astype(np.float32)
    if posterior == 'lowRank':
        params['covFactor'] = (rng.standard_normal([size, rank]) * 0.4).astype(np.float32)
    if prior == 'learnableNormal':
        params['priorLoc'] = (rng.standard_normal(size) * 0.5).astype(np.float32)
        params['priorRho'] = np.float32(0.3)
    return params


def dense_distributions(params, posterior, prior, size):
    """TFP's posterior (as built for the layer), its low-rank original if any, and the prior."""
    sigma = tf.constant(softplus(params['rho']) + EPS, tf.float32)
    loc = tf.constant(params['loc'])
    original = None
    if posterior == 'meanField':
        q = tfd.MultivariateNormalDiag(loc, sigma)
    elif posterior == 'fullCovariance':
        strictly_lower = np.tril(params['scaleTril'], -1)
        q = tfd.MultivariateNormalTriL(loc, tf.constant(strictly_lower) + tf.linalg.diag(sigma))
    else:
        original = tfd.MultivariateNormalDiagPlusLowRankCovariance(
            loc, cov_diag_factor=tf.square(sigma), cov_perturb_factor=tf.constant(params['covFactor']))
        q = tfd.MultivariateNormalTriL(loc, tf.linalg.cholesky(original.covariance()))
    if prior == 'fixedNormal':
        p = tfd.MultivariateNormalDiag(tf.fill([size], FIXED_PRIOR['mean']), tf.fill([size], FIXED_PRIOR['stddev']))
    else:
        scale = np.float32(softplus(params['priorRho']) + EPS)
        p = tfd.MultivariateNormalDiag(tf.constant(params['priorLoc']), tf.fill([size], scale))
    return q, original, p


def gaussian_kl(mu, cov, m, s):
    """KL(N(μ, Σ) || N(m, diag(s²))) in float64 (Rasmussen & Williams 2006, eq. A.23)."""
    mu, cov, m, s = (np.asarray(v, np.float64) for v in (mu, cov, m, s))
    return 0.5 * (np.sum((np.diag(cov) + (mu - m) ** 2) / s ** 2) - len(mu) + np.sum(np.log(s ** 2))
                  - np.linalg.slogdet(cov)[1])


def dense_case(rng, name, posterior, rank, prior, use_bias):
    size = INPUTS * UNITS + (UNITS if use_bias else 0)
    params = dense_params(rng, posterior, rank, prior, size)
    x = rng.standard_normal([BATCH, INPUTS]).astype(np.float32)
    q, original, p = dense_distributions(params, posterior, prior, size)
    as_mean = lambda d: tfp.layers.DistributionLambda(lambda _: d, convert_to_tensor_fn=tfd.Distribution.mean)
    layer = tfp.layers.DenseVariational(
        UNITS,
        make_posterior_fn=lambda *_: tf_keras.Sequential([as_mean(q)]),
        make_prior_fn=lambda *_: tf_keras.Sequential([as_mean(p)]),
        kl_use_exact=True,
        use_bias=use_bias,
    )
    mean_output = layer(x).numpy()
    (kl,) = layer.losses
    covariance = (original or q).covariance().numpy().astype(np.float64)
    mu = (original or q).mean().numpy().astype(np.float64)
    np.testing.assert_allclose(kl.numpy(), gaussian_kl(mu, covariance, p.mean(), p.stddev()), rtol=1e-4)
    # Output (b, j) is a·w with a = x_b in column j of the kernel (row-major) and 1 at bias j.
    rows = []
    for row in x.astype(np.float64):
        for j in range(UNITS):
            a = np.zeros(size)
            a[np.arange(INPUTS) * UNITS + j] = row
            if use_bias:
                a[INPUTS * UNITS + j] = 1
            rows.append(a)
    a = np.stack(rows)
    return {
        'name': name,
        'units': UNITS,
        'useBias': use_bias,
        'posterior': {'kind': posterior, **({'rank': rank} if posterior == 'lowRank' else {})},
        'prior': {'kind': prior, **(FIXED_PRIOR if prior == 'fixedNormal' else {'mean': 0, 'stddev': 1})},
        'weights': {key: to_json(value) for key, value in params.items()},
        'x': to_json(x),
        'kl': to_json(kl),
        'meanOutput': to_json(mean_output),
        'outputMean': to_json((a @ mu).reshape(BATCH, UNITS)),
        'outputVariance': to_json(np.einsum('ri,ij,rj->r', a, covariance, a).reshape(BATCH, UNITS)),
    }


def write():
    rng = np.random.default_rng(19)
    tf.random.set_seed(19)
    write_fixture(
        'tfp_conv_variational.json',
        'variational_layers.py',
        'tfp.layers.Convolution{1,3}D{Flipout,Reparameterization} with fixed weights [kernel loc, kernel rho, '
        'bias]: KL from layer.losses, the mean output, one output with recorded noise (epsilon; for Flipout '
        'the input and output signs), and the mean and variance of each output element over `samples` calls '
        'with TFP\'s own noise.',
        [conv_case(rng, *case) for case in CONV_CASES],
    )
    write_fixture(
        'tfp_dense_variational_v2.json',
        'variational_layers.py',
        'tfp.layers.DenseVariational with make_posterior_fn / make_prior_fn giving the Gaussians of '
        'DenseVariationalV2 (weights as its variables: loc, rho, scaleTril, covFactor, priorLoc, priorRho) and '
        'kl_use_exact=True: KL from layer.losses, the mean output, and the exact output moments from TFP\'s '
        'q.mean() and q.covariance().',
        [dense_case(rng, *case) for case in DENSE_CASES],
    )
