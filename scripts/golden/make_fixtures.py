"""Regenerates every golden fixture under test/fixtures/ (see docs/parity.md).

    python scripts/golden/make_fixtures.py

Needs the reference stack of requirements.txt; tfjs-trust's tests only read the JSON it writes.
"""

import os
import sys
import warnings

sys.dont_write_bytecode = True  # No __pycache__ in the repository.

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # Before TensorFlow loads: keep its banner out.
# TFP's layers call tf_keras' deprecated `add_variable`; nothing to act on here.
warnings.filterwarnings('ignore', category=UserWarning)

import dense_flipout  # noqa: E402  (after the environment is set)
import grad_cam  # noqa: E402
import tfp_weight_names  # noqa: E402
import variational_layers  # noqa: E402

if __name__ == '__main__':
    dense_flipout.write()
    grad_cam.write()
    tfp_weight_names.write()
    variational_layers.write()
