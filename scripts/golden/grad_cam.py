"""Golden Grad-CAM fixtures: the keras.io recipe on two small Keras CNNs with fixed weights.

The recipe (keras.io, "Grad-CAM class activation visualization", `make_gradcam_heatmap`), run on
one image at a time with the classifier's logits (the recipe removes the last softmax):
    grads  = d logits[class] / d activations            (GradientTape)
    pooled = mean of grads over batch, rows, columns
    raw    = activations · pooled                        (sum over channels)
    map    = max(raw, 0) / max(raw)                      (ReLU, then divide by the max)
We record `raw` too, since the recipe's last step (ReLU then / max) is not the only normalisation
in use (pytorch-grad-cam and tfjs-trust use ReLU then min-max).

The models are exported as a plain layer list (name, kind, inputs, options) and their weights as
nested arrays in Keras order (conv kernels [rows, cols, in, out], dense [in, out], then bias),
which is also the tfjs-layers order, so the jest test rebuilds the same model with tfjs-layers.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from fixture_io import to_json, write_fixture


def conv(filters, padding):
    """Options of a 3×3 ReLU convolution."""
    return {'filters': filters, 'kernelSize': 3, 'padding': padding, 'activation': 'relu'}


# Each model: input shape, then layers as (name, kind, inputs, options). `kind` names the
# tfjs-layers factory the test calls; Keras gets the same options in snake_case below.
MODELS = {
    'sequential_cnn': {
        'inputShape': [12, 12, 3],
        'layers': [
            ('conv1', 'conv2d', ['input'], conv(4, 'valid')),
            ('pool1', 'maxPooling2d', ['conv1'], {'poolSize': 2}),
            ('last_conv', 'conv2d', ['pool1'], conv(6, 'same')),
            ('pool2', 'globalAveragePooling2d', ['last_conv'], {}),
            ('logits', 'dense', ['pool2'], {'units': 3}),
        ],
        'targets': ['last_conv', 'conv1'],
    },
    'skip_connection': {
        'inputShape': [10, 10, 3],
        'layers': [
            ('stem', 'conv2d', ['input'], conv(4, 'same')),
            ('branch', 'conv2d', ['stem'], conv(4, 'same')),
            ('skip_add', 'add', ['stem', 'branch'], {}),
            ('head_conv', 'conv2d', ['skip_add'], conv(5, 'valid')),
            ('pool', 'globalAveragePooling2d', ['head_conv'], {}),
            ('logits', 'dense', ['pool'], {'units': 3}),
        ],
        # `stem` feeds both the skip and the branch: its gradient is the sum over both paths.
        'targets': ['head_conv', 'skip_add', 'stem'],
    },
}

KERAS_LAYERS = {
    'conv2d': lambda name, o: keras.layers.Conv2D(
        o['filters'], o['kernelSize'], padding=o['padding'], activation=o['activation'], name=name),
    'maxPooling2d': lambda name, o: keras.layers.MaxPooling2D(o['poolSize'], name=name),
    'globalAveragePooling2d': lambda name, _: keras.layers.GlobalAveragePooling2D(name=name),
    'add': lambda name, _: keras.layers.Add(name=name),
    'dense': lambda name, o: keras.layers.Dense(o['units'], name=name),
}


def build_keras(spec, rng):
    """The functional Keras model the spec describes, with weights drawn from `rng`."""
    tensors = {'input': keras.Input(spec['inputShape'], name='input')}
    for name, kind, inputs, options in spec['layers']:
        layer = KERAS_LAYERS[kind](name, options)
        args = [tensors[i] for i in inputs]
        tensors[name] = layer(args if kind == 'add' else args[0])
    model = keras.Model(tensors['input'], tensors[spec['layers'][-1][0]])
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            # He-like scale keeps ReLUs alive; a small positive bias avoids all-dead maps.
            fan_in = np.prod(weights[0].shape[:-1])
            kernel = rng.standard_normal(weights[0].shape) * np.sqrt(2.0 / fan_in)
            bias = rng.uniform(0.0, 0.1, weights[1].shape)
            layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    """The keras.io recipe, kept as written there, returning the pre-ReLU map as well."""
    grad_model = keras.models.Model(
        model.inputs, [model.get_layer(last_conv_layer_name).output, model.output])
    with tf.GradientTape() as tape:
        last_conv_layer_output, preds = grad_model(img_array)
        if pred_index is None:
            pred_index = tf.argmax(preds[0])
        class_channel = preds[:, pred_index]
    grads = tape.gradient(class_channel, last_conv_layer_output)
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))
    last_conv_layer_output = last_conv_layer_output[0]
    raw = tf.squeeze(last_conv_layer_output @ pooled_grads[..., tf.newaxis], axis=-1)
    heatmap = tf.maximum(raw, 0) / tf.math.reduce_max(raw)
    return heatmap.numpy(), raw.numpy(), int(pred_index)


def model_case(name, spec, rng, images=2):
    model = build_keras(spec, rng)
    x = rng.uniform(0.0, 1.0, [images] + spec['inputShape']).astype(np.float32)
    logits = model(x).numpy()
    maps = []
    for layer_name in spec['targets']:
        for image in range(images):
            # The predicted class (the recipe's default), then another class whose map has a
            # positive part: on an all-negative map the recipe divides by a negative max.
            others = [int(c) for c in np.argsort(-logits[image])[1:]]
            for class_idx in [None] + others:
                heatmap, raw, used = make_gradcam_heatmap(x[image:image + 1], model, layer_name, class_idx)
                if raw.max() <= 0:
                    continue
                maps.append({'layerName': layer_name, 'image': image, 'classIdx': used,
                             'raw': to_json(raw), 'heatmap': to_json(heatmap)})
                if class_idx is not None:
                    break
    return {
        'name': name,
        'inputShape': spec['inputShape'],
        'layers': [{'name': n, 'kind': k, 'inputs': i, 'options': o} for n, k, i, o in spec['layers']],
        'weights': {layer.name: [to_json(w) for w in layer.get_weights()]
                    for layer in model.layers if layer.get_weights()},
        'images': to_json(x),
        'logits': to_json(logits),
        'maps': maps,
    }


def write(seed=11):
    rng = np.random.default_rng(seed)
    write_fixture(
        'keras_grad_cam.json',
        'grad_cam.py',
        'Grad-CAM heat maps from the keras.io recipe (GradientTape, gradients pooled over rows and '
        'columns, ReLU, divided by the max) on small tf_keras CNNs with logits outputs; raw is the '
        'map before ReLU and normalisation.',
        [model_case(name, spec, rng) for name, spec in MODELS.items()],
    )

