"""Writing golden fixtures: compact, deterministic JSON that records the reference stack's versions.

Floats are written as the shortest decimal that reads back as the same float32, so the files stay
small, a regeneration with the same versions gives a byte-identical file, and tfjs (float32)
recovers exactly the value TensorFlow computed with.
"""

import json
import platform
from pathlib import Path

import numpy as np

FIXTURE_DIR = Path(__file__).resolve().parents[2] / 'test' / 'fixtures'


def versions():
    """The versions of the reference stack, recorded in every fixture."""
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras

    return {
        'python': platform.python_version(),
        'tensorflow': tf.__version__,
        'tensorflow_probability': tfp.__version__,
        'tf_keras': tf_keras.__version__,
        'numpy': np.__version__,
    }


def to_json(value):
    """Arrays and tensors to nested lists of float32-exact numbers (ints stay ints)."""
    if hasattr(value, 'numpy'):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind in 'iub':
        return array.tolist()
    flat = [float(np.format_float_positional(v, unique=True)) for v in array.astype(np.float32).ravel()]
    return np.array(flat, dtype=object).reshape(array.shape).tolist() if array.ndim else flat[0]


def write_fixture(filename, generator, description, cases, stack=None, **extra):
    """Writes `test/fixtures/<filename>` with the generator, versions (`stack`, default the TF one) and cases."""
    payload = {
        'description': description,
        'generator': f'scripts/golden/{generator}',
        'versions': stack if stack is not None else versions(),
        **extra,
        'cases': cases,
    }
    path = FIXTURE_DIR / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, separators=(',', ':')) + '\n')
    print(f'wrote {path.relative_to(FIXTURE_DIR.parents[1])} ({path.stat().st_size / 1024:.1f} KB)')
