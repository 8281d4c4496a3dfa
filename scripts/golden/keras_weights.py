"""Keras-written weight files, and Keras' outputs on them, for the Keras weight reader's parity tests.

Both Keras generations write the files, each with its own saver, as a user's would be written:
  tf-keras 2.18 (legacy HDF5): `model.save_weights('x.h5')` (root attributes `layer_names`, each
      layer group's `weight_names`: the layout of the Keras Applications files) and
      `model.save('x.h5')` (the same under a `model_weights` group);
  Keras 3: `model.save('x.keras')` (a zip of config.json and model.weights.h5, whose groups are
      named after layer classes, not layer names) and `model.save_weights('x.weights.h5')`.
Weights are drawn from a fixed seed (batch-norm statistics too, so inference-mode batch norm is
exercised); only names, shapes and layouts matter for parity, never the values of ImageNet.

The images are pixels 0..255; each backbone gets Keras' own `preprocess_input` ('caffe' for VGG16
and ResNet50, 'tf' for MobileNetV2), recorded beside Keras' outputs, so the tests check the
preprocessing and the network separately.

    venv-ref/bin/python scripts/golden/keras_weights.py            # small fixtures, committed
    venv-ref/bin/python scripts/golden/keras_weights.py --large DIR  # full VGG16, ResNet50, MobileNetV2

The large files (58 to 94 MB) are not committed: `KERAS_WEIGHTS_DIR=DIR npx jest test/keras`
checks them (see docs/parity.md).
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import keras  # Keras 3
import numpy as np
import tf_keras  # tf-keras 2.18: the legacy HDF5 writer

from fixture_io import FIXTURE_DIR, to_json, write_fixture

SEED = 20240615
SMALL_DIR = FIXTURE_DIR / 'keras'


def random_weights(model, seed):
    """One seeded value per weight, by its role: He-scaled kernels, and batch-norm statistics far from 0/1."""
    rng = np.random.default_rng(seed)
    values = []
    for weight in model.weights:
        name = weight.name.split('/')[-1].split(':')[0]
        shape = tuple(weight.shape)
        if name in ('gamma', 'moving_variance'):
            value = rng.uniform(0.5, 1.5, shape)
        elif name in ('beta', 'moving_mean', 'bias'):
            value = rng.normal(0, 0.2, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if 'depthwise' not in name else int(np.prod(shape[:2]))
            value = rng.normal(0, np.sqrt(2 / fan_in), shape)
        values.append(value.astype(np.float32))
    return values


def mini_vgg(k):
    """A VGG-style network with Keras VGG16's layer names and a dense top: small enough to commit."""
    inputs = k.Input((32, 32, 3), name='input')
    x = inputs
    for block, (filters, convs) in enumerate([(8, 2), (16, 1)], start=1):
        for c in range(1, convs + 1):
            x = k.layers.Conv2D(filters, 3, padding='same', activation='relu', name=f'block{block}_conv{c}')(x)
        x = k.layers.MaxPooling2D(2, strides=2, name=f'block{block}_pool')(x)
    x = k.layers.GlobalAveragePooling2D(name='avg_pool')(x)
    outputs = k.layers.Dense(5, activation='softmax', name='predictions')(x)
    return k.Model(inputs, outputs, name='mini_vgg')


def pixels(rng, count, size):
    return rng.integers(0, 256, (count, size, size, 3)).astype(np.float32)


def outputs_of(model, x):
    return np.asarray(model(x, training=False))


def write_pair(directory, stem, legacy, modern, seed):
    """The same weights into the tf-keras and the Keras 3 model, then every file format of both."""
    weights = random_weights(legacy, seed)
    legacy.set_weights(weights)
    modern.set_weights(weights)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        'legacyWeights': f'{stem}.tf_keras.weights-only.h5',
        'legacyModel': f'{stem}.tf_keras.model.h5',
        'keras': f'{stem}.keras',
        'kerasWeights': f'{stem}.weights.h5',
    }
    legacy.save_weights(str(directory / files['legacyWeights']))
    legacy.save(str(directory / files['legacyModel']), save_format='h5')
    modern.save(str(directory / files['keras']))
    modern.save_weights(str(directory / files['kerasWeights']))
    return files


def case(name, files, legacy, modern, x, preprocessing, preprocess):
    """One model's files and Keras' outputs; both Keras generations must agree first."""
    inputs = preprocess(x.copy())
    expected = outputs_of(modern, inputs)
    legacy_out = outputs_of(legacy, inputs)
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(legacy_out - expected).max() <= 1e-4 * scale, f'{name}: tf-keras and Keras 3 disagree'
    return {
        'name': name,
        'files': files,
        'preprocessing': preprocessing,
        'pixels': to_json(x),
        'output': to_json(expected),
    }


def caffe(x):
    return keras.applications.vgg16.preprocess_input(x)


def tf_mode(x):
    return keras.applications.mobilenet_v2.preprocess_input(x)


def small(rng):
    legacy, modern = mini_vgg(tf_keras), mini_vgg(keras)
    files = write_pair(SMALL_DIR, 'mini_vgg', legacy, modern, SEED)
    cases = [case('mini_vgg', files, legacy, modern, pixels(rng, 2, 32), 'caffe', caffe)]
    # alpha 0.1 at 32×32 (Keras accepts any width without ImageNet weights): every layer kind of
    # MobileNetV2 at a tenth of the smallest published width's size.
    build = lambda k: k.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.1, include_top=False, weights=None)
    legacy, modern = build(tf_keras), build(keras)
    files = write_pair(SMALL_DIR, 'mobilenetv2_0.1', legacy, modern, SEED + 1)
    # Only the Applications layout (tf-keras weights-only) is committed for MobileNetV2: one file is enough.
    for kind in ('legacyModel', 'keras', 'kerasWeights'):
        (SMALL_DIR / files.pop(kind)).unlink()
    cases.append(case('mobilenetv2_0.1', files, legacy, modern, pixels(rng, 2, 32), 'tf', tf_mode))
    corners = pixels(rng, 1, 2)
    preprocessing = {'pixels': to_json(corners), 'caffe': to_json(caffe(corners.copy())), 'tf': to_json(tf_mode(corners.copy()))}
    write_fixture('keras_weights.json', 'keras_weights.py',
                  'Keras-written weight files (test/fixtures/keras) and Keras outputs on them', cases,
                  preprocessing=preprocessing,
                  keras={'keras': keras.__version__, 'tf_keras': tf_keras.__version__})


def large(directory, rng):
    directory = Path(directory)
    cases = []
    specs = [
        ('vgg16', lambda k: k.applications.VGG16(input_shape=(48, 48, 3), include_top=False, weights=None), 48, 'caffe', caffe),
        ('resnet50', lambda k: k.applications.ResNet50(input_shape=(64, 64, 3), include_top=False, weights=None), 64, 'caffe', caffe),
        ('mobilenetv2_1.0', lambda k: k.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False, weights=None), 64, 'tf', tf_mode),
    ]
    for index, (name, build, size, preprocessing, preprocess) in enumerate(specs):
        legacy, modern = build(tf_keras), build(keras)
        files = write_pair(directory, name, legacy, modern, SEED + 10 + index)
        cases.append(case(name, files, legacy, modern, pixels(rng, 1, size), preprocessing, preprocess))
        print(f'wrote {name} files in {directory}')
    (directory / 'keras_weights_large.json').write_text(json.dumps({'cases': cases}, separators=(',', ':')))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--large', metavar='DIR', help='write the full-size backbones to DIR instead')
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    if args.large:
        large(args.large, rng)
    else:
        small(rng)


if __name__ == '__main__':
    main()
