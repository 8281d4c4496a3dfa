"""The `npm run bench` workloads with TensorFlow + TFP + tf_keras, done the article's way.

The model is the article's: Keras VGG16 (weights=None: timing does not depend on the weights, and
nothing is downloaded) + Flatten + `tfp.layers.DenseFlipout` softmax head, as
src/ham10000/model.ts builds it in tfjs-trust. Monte Carlo prediction is S calls of
`model.predict` (each call samples new weight noise); Grad-CAM is the keras.io recipe with
GradientTape, batched (one forward and one backward pass for the batch, as tfjs-trust does).
"""

import numpy as np

from harness import Prepared, Workload

NUM_CLASSES = 7  # HAM10000's classes.


def sizes(context, batch=8, size=224):
    """The article's batch and image size, or the smallest that still runs VGG16 in quick mode."""
    return (1, 32) if context.quick else (batch, size)


def vgg16_classifier(size, head_activation='softmax'):
    import tensorflow_probability as tfp
    import tf_keras as keras

    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))
    x = keras.layers.Flatten(name='head_flatten')(base.output)
    y = tfp.layers.DenseFlipout(NUM_CLASSES, activation=head_activation, name='head_flipout')(x)
    return keras.Model(base.input, y)


def images(context, batch, size):
    rng = np.random.default_rng(context.seed)
    return rng.uniform(-120, 150, (batch, size, size, 3)).astype(np.float32)  # VGG-preprocessed range.


def vgg16_forward(context):
    import tf_keras as keras

    batch, size = sizes(context)
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))
    x = images(context, batch, size)
    return Prepared(
        params={'batch': batch, 'size': size},
        items=batch,
        unit='images/s',
        run=lambda: base(x, training=False).numpy(),
        note='VGG16 convolutional base, one call (model(x, training=False))',
    )


def mc_prediction(context, samples=100):
    batch, size = sizes(context)
    samples = 5 if context.quick else samples
    model = vgg16_classifier(size)
    x = images(context, batch, size)

    def run():
        # The article's recipe: S predictions, each a new draw of the Flipout head's weights.
        draws = np.stack([model.predict(x, batch_size=batch, verbose=0) for _ in range(samples)])
        return draws.mean(axis=0), draws.std(axis=0)

    return Prepared(
        params={'batch': batch, 'size': size, 'samples': samples},
        items=batch,
        unit='images/s',
        run=run,
        note=f'{samples} x model.predict (the article recipe: the whole VGG16 runs per sample)',
    )


def grad_cam(context, layer_name='block5_conv3'):
    import tensorflow as tf
    import tf_keras as keras

    batch, size = sizes(context)
    # The recipe removes the softmax: the class score is the logit.
    model = vgg16_classifier(size, head_activation=None)
    grad_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.output])
    x = tf.constant(images(context, batch, size))

    def run():
        with tf.GradientTape() as tape:
            activations, preds = grad_model(x)
            score = tf.gather(preds, tf.argmax(preds, axis=1), axis=1, batch_dims=1)
        grads = tape.gradient(score, activations)
        pooled = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        maps = tf.nn.relu(tf.reduce_sum(activations * pooled, axis=-1))
        return (maps / (tf.reduce_max(maps, axis=(1, 2), keepdims=True) + 1e-12)).numpy()

    return Prepared(
        params={'batch': batch, 'size': size, 'layer': layer_name},
        items=batch,
        unit='images/s',
        run=run,
        note='keras.io recipe batched, GradientTape, maps at the layer resolution (no upsampling)',
    )


def dense_step(context, variational):
    """One optimiser step of a classifier head on VGG16 features: DenseFlipout or Dense."""
    import tensorflow_probability as tfp
    import tf_keras as keras

    batch, features = (8, 512) if context.quick else (32, 7 * 7 * 512)
    rng = np.random.default_rng(context.seed)
    x = rng.standard_normal((batch, features)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, NUM_CLASSES, batch), NUM_CLASSES)
    layer = (tfp.layers.DenseFlipout(NUM_CLASSES, activation='softmax') if variational
             else keras.layers.Dense(NUM_CLASSES, activation='softmax'))
    model = keras.Sequential([keras.Input((features,)), layer])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='categorical_crossentropy')
    return Prepared(
        params={'batch': batch, 'features': features, 'units': NUM_CLASSES},
        items=batch,
        unit='examples/s',
        run=lambda: model.train_on_batch(x, y),
        note='model.train_on_batch with Adam' + (' (loss includes the KL)' if variational else ''),
    )


WORKLOADS = [
    Workload('vgg16-forward', 'VGG16 convolutional base, one forward pass', vgg16_forward),
    Workload('mc-prediction', 'Monte Carlo prediction, VGG16 + DenseFlipout head, S calls of model.predict',
             mc_prediction, runs=3, warmup=1),
    Workload('grad-cam', 'Grad-CAM at block5_conv3 of VGG16 + DenseFlipout head (GradientTape)', grad_cam),
    Workload('dense-flipout-step', 'one training step of a DenseFlipout head',
             lambda context: dense_step(context, variational=True)),
    Workload('dense-step', 'one training step of a Dense head (the baseline)',
             lambda context: dense_step(context, variational=False)),
]


def versions():
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras

    return {'tensorflow': tf.__version__, 'tensorflow_probability': tfp.__version__, 'tf_keras': tf_keras.__version__}
