"""Golden fixture of last-layer Laplace: laplace-torch on a small MLP, for test/uncertainty/laplace.test.ts.

    /root/.cache/tfjs-trust/venv-torch/bin/python scripts/golden/laplace_torch.py

A 4-8-3 tanh MLP is trained (float64, seeded) on three Gaussian blobs; laplace-torch then fits
last-layer Laplace with each Hessian structure (full, diag, kron; its default GGN backend) on the
training set, the prior precision by marginal likelihood (scalar prior, Adam on log precision as
`optimize_prior_precision(method='marglik')` does, run to convergence), and predicts held-out
points with the probit link. The fixture holds the data, the weights in tfjs layout (kernel
[in, out]) and, per structure, the posterior precision and covariance of the last layer, the
fitted prior precision, the log marginal likelihood at the fitted precision and at 1, and the
probit and Monte Carlo predictive probabilities.

Parameter order: laplace-torch flattens nn.Linear as [weight (out-major: k * in + i), bias]; the
fixture reorders to the tfjs order [kernel (in-major: i * out + k), bias], i.e. the flattened
[in + 1, out] matrix of the kernel with the bias as its last row.
"""

import platform
from importlib.metadata import version

import numpy as np
import torch
from torch import nn

from fixture_io import to_json, write_fixture
from laplace import Laplace

SEED = 7
INPUTS, HIDDEN, CLASSES = 4, 8, 3
TRAIN, TEST = 60, 8
MC_SAMPLES = 100_000  # the Monte Carlo predictive's error is then ~1e-3
MARGLIK_STEPS = 3000  # Adam steps on log prior precision: converged (laplace-torch's default 100 leave δ 0.6-0.7 % off here)


def data():
    rng = np.random.default_rng(SEED)
    centres = rng.normal(0, 1.2, size=(CLASSES, INPUTS))
    labels = np.arange(TRAIN + TEST) % CLASSES
    points = centres[labels] + rng.normal(0, 1.0, size=(TRAIN + TEST, INPUTS))
    # float32-exact inputs and weights: the fixture stores float32, and tfjs computes from exactly these.
    x = torch.tensor(points.astype(np.float32), dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.int64)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def train(x, y):
    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(INPUTS, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, CLASSES)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        # A little weight decay keeps the MAP finite on separable blobs.
        loss = nn.functional.cross_entropy(model(x), y) + 1e-3 * sum((p**2).sum() for p in model.parameters())
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.float().double())
    return model


def tfjs_order(count_in):
    """Index map: position in the tfjs order -> position in laplace-torch's order."""
    order = [k * count_in + i for i in range(count_in) for k in range(CLASSES)]
    return np.array(order + [CLASSES * count_in + k for k in range(CLASSES)])


def fit(model, x, y, x_test, structure):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=TRAIN)
    la = Laplace(model, 'classification', subset_of_weights='last_layer', hessian_structure=structure)
    la.fit(loader)
    marglik_at_one = la.log_marginal_likelihood(torch.tensor(1.0, dtype=torch.float64)).item()
    la.optimize_prior_precision(method='marglik', pred_type='glm', prior_structure='scalar', n_steps=MARGLIK_STEPS, lr=0.1)
    order = tfjs_order(HIDDEN)
    if structure == 'kron':
        precision = la.posterior_precision.to_matrix(exponent=1)
        covariance = la.posterior_precision.to_matrix(exponent=-1)
    elif structure == 'diag':
        precision = torch.diag(la.posterior_precision)
        covariance = torch.diag(la.posterior_variance)
    else:
        precision = la.posterior_precision
        covariance = la.posterior_covariance
    reorder = lambda m: m.detach().numpy()[np.ix_(order, order)]  # noqa: E731
    probit = la(x_test, pred_type='glm', link_approx='probit')
    torch.manual_seed(SEED)
    monte_carlo = la(x_test, pred_type='glm', link_approx='mc', n_samples=MC_SAMPLES)
    return {
        'priorPrecision': la.prior_precision.item(),
        'logMarginalLikelihood': la.log_marginal_likelihood().item(),
        'logMarginalLikelihoodAtOne': marglik_at_one,
        'posteriorPrecision': to_json(reorder(precision)),
        'posteriorCovariance': to_json(reorder(covariance)),
        'probit': to_json(probit.detach().numpy()),
        'monteCarlo': to_json(monte_carlo.detach().numpy()),
    }


def main():
    x, y, x_test, y_test = data()
    model = train(x, y)
    hidden, output = model[0], model[2]
    cases = {structure: fit(model, x, y, x_test, structure) for structure in ['full', 'diag', 'kron']}
    stack = {'python': platform.python_version(), 'torch': torch.__version__, 'laplace-torch': version('laplace-torch'), 'numpy': np.__version__}
    write_fixture(
        'laplace_torch.json',
        'laplace_torch.py',
        'laplace-torch last-layer Laplace (full, diag, kron) of a 4-8-3 tanh MLP; tfjs parameter order (see the generator).',
        cases,
        stack=stack,
        x=to_json(x), y=y.tolist(), xTest=to_json(x_test), yTest=y_test.tolist(),
        weights={
            'hiddenKernel': to_json(hidden.weight.detach().numpy().T), 'hiddenBias': to_json(hidden.bias.detach()),
            'outputKernel': to_json(output.weight.detach().numpy().T), 'outputBias': to_json(output.bias.detach()),
        },
    )


if __name__ == '__main__':
    main()
