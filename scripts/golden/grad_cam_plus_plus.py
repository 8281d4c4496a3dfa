"""Golden Grad-CAM++ channel weights from pytorch-grad-cam (the torch stack, requirements-torch.txt).

    /path/to/torch-venv/bin/python scripts/golden/grad_cam_plus_plus.py

`GradCAMPlusPlus.get_cam_weights` is called on fixed activations and gradients (post-ReLU
activations with zeros, gradients of both signs); it uses neither the model nor `self`, so the
fixture isolates Chattopadhay et al. 2018, eq. 19, with pytorch-grad-cam's epsilon (1e-6) in α's
denominator. The small-gradient case is where that epsilon matters: with g ~ 1e-3 the terms of
the denominator are ~1e-6 too. Arrays are stored channels-last ([batch, rows, cols, channels]),
the layout of tfjs-trust's CAM engine.
"""

import platform
import sys

import numpy as np

sys.dont_write_bytecode = True

from fixture_io import to_json, write_fixture  # noqa: E402


def case(name, seed, gradient_scale):
    rng = np.random.default_rng(seed)
    activations = np.maximum(rng.normal(0.2, 1.0, size=(2, 4, 3, 3)), 0).astype(np.float32)
    gradients = (gradient_scale * rng.normal(0.0, 1.0, size=(2, 4, 3, 3))).astype(np.float32)
    gradients[0, 1, 0, 0] = 0.0  # α is defined as 0 where the gradient is 0
    from pytorch_grad_cam import GradCAMPlusPlus

    weights = GradCAMPlusPlus.get_cam_weights(None, None, None, None, activations, gradients)
    channels_last = (0, 2, 3, 1)
    return {
        'name': name,
        'activations': to_json(activations.transpose(channels_last)),
        'gradients': to_json(gradients.transpose(channels_last)),
        'weights': to_json(weights),
    }


def write():
    import pytorch_grad_cam  # noqa: F401
    import torch
    from importlib.metadata import version

    stack = {'python': platform.python_version(), 'torch': torch.__version__, 'grad-cam': version('grad-cam'), 'numpy': np.__version__}
    cases = [case('unit gradients', 1, 1.0), case('small gradients', 2, 1e-3)]
    write_fixture(
        'torch_grad_cam_plus_plus.json',
        'grad_cam_plus_plus.py',
        "pytorch-grad-cam's GradCAMPlusPlus.get_cam_weights on fixed activations and gradients (channels-last)",
        cases,
        stack=stack,
    )


if __name__ == '__main__':
    write()
