"""The `npm run bench` workloads (benchmarks/workloads/*.ts) with TensorFlow + TFP + tf_keras.

Same names, sizes, models and inputs as the tfjs workloads, done the article's way: `model.predict`
for inference, `tfp.layers.DenseFlipout` for the Bayesian head, Monte Carlo prediction as S calls
of `model.predict` (each call draws new weight noise), Grad-CAM as the keras.io recipe with
GradientTape. VGG16 is Keras' own with weights=None: timing does not depend on the weights, and
nothing is downloaded.
"""

import numpy as np

from harness import Prepared, Workload

CLASSES = 7  # HAM10000's classes.
HAM10000_EXAMPLES = 10015  # The KL weight of the trainable top is 1 / training examples, as in tfjs.


def pick(context, full, quick):
    """The workload's sizes: the tfjs workload's full sizes, or its --quick sizes."""
    return quick if context.quick else full


def images(context, batch, size):
    """A seeded batch with pixel values in [0, 255), as the tfjs workloads make."""
    return np.random.default_rng(context.seed).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)


def vgg16_base(size):
    import tf_keras as keras

    return keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))


def dense_flipout(kl_weight=1.0, activation='softmax', units=CLASSES):
    """TFP's DenseFlipout with its KL scaled by `kl_weight`, as tfjs-trust's `klWeight`."""
    import tensorflow_probability as tfp

    return tfp.layers.DenseFlipout(
        units, activation=activation,
        kernel_divergence_fn=lambda q, p, _: tfp.distributions.kl_divergence(q, p) * kl_weight)


def vgg16_forward(context):
    batch, size = pick(context, (8, 224), (2, 64))
    base = vgg16_base(size)
    x = images(context, batch, size)
    return Prepared({'batch': batch, 'size': size}, batch, 'images/s',
                    lambda: base.predict(x, batch_size=batch, verbose=0))


def vgg16_top_train_step(context):
    """Adam step of block4_conv3 … block5_pool + DenseFlipout head on block4_conv2 features."""
    import tensorflow as tf
    import tf_keras as keras

    batch, size = pick(context, (8, 224), (2, 64))
    side = size // 8  # block4_conv2 sees the image after three 2×2 poolings.
    conv = lambda name: keras.layers.Conv2D(512, 3, padding='same', activation='relu', name=name)  # noqa: E731
    pool = lambda name: keras.layers.MaxPooling2D(2, name=name)  # noqa: E731
    model = keras.Sequential([
        keras.Input((side, side, 512)), conv('block4_conv3'), pool('block4_pool'), conv('block5_conv1'),
        conv('block5_conv2'), conv('block5_conv3'), pool('block5_pool'), keras.layers.Flatten(),
        dense_flipout(kl_weight=1 / HAM10000_EXAMPLES),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss='categorical_crossentropy')
    rng = np.random.default_rng(context.seed)
    features = np.maximum(rng.standard_normal((batch, side, side, 512)), 0).astype(np.float32)
    labels = tf.one_hot(np.arange(batch) % CLASSES, CLASSES).numpy()
    return Prepared({'batch': batch, 'size': size, 'features': f'{side}×{side}×512'}, batch, 'images/s',
                    lambda: model.train_on_batch(features, labels))


def compact_train_step(context):
    """Adam step of the HAM10000 compact CNN (src/ham10000/vgg16.ts) + average pooling + DenseFlipout."""
    import tensorflow as tf
    import tf_keras as keras

    batch, size = pick(context, (32, 48), (4, 16))
    conv = lambda filters, name: keras.layers.Conv2D(  # noqa: E731
        filters, 3, padding='same', activation='relu', kernel_initializer='he_uniform', name=name)
    layers = [keras.Input((size, size, 3)), keras.layers.Rescaling(1 / 128)]
    for block, filters in enumerate((32, 64, 128), start=1):
        layers += [conv(filters, f'block{block}_conv1'), keras.layers.MaxPooling2D(2, name=f'block{block}_pool')]
    layers += [conv(128, 'block4_conv1'), keras.layers.GlobalAveragePooling2D(),
               dense_flipout(kl_weight=1 / HAM10000_EXAMPLES)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss='categorical_crossentropy')
    x = images(context, batch, size) - 128
    labels = tf.one_hot(np.arange(batch) % CLASSES, CLASSES).numpy()
    return Prepared({'batch': batch, 'size': size}, batch, 'images/s', lambda: model.train_on_batch(x, labels))


def matmul(context):
    """A square float32 matrix product: the machine's peak the other rows are compared with."""
    import tensorflow as tf

    size = pick(context, 1024, 128)
    rng = np.random.default_rng(context.seed)
    a = tf.constant(rng.standard_normal((size, size)).astype(np.float32))
    return Prepared({'size': size}, 1, 'products/s', lambda: tf.matmul(a, a).numpy())


def mc_predict(variant):
    """VGG16 + Flatten + DenseFlipout softmax, S samples of a batch, computed as `variant` says."""
    def setup(context):
        import tf_keras as keras

        size, samples, batch = pick(context, (224, 100, 8), (32, 4, 1))
        base = vgg16_base(size)
        features = keras.Input(base.output_shape[1:])
        head = keras.Model(features, dense_flipout()(keras.layers.Flatten()(features)))
        model = keras.Model(base.input, head(base.output))
        x = images(context, batch, size)
        predict = lambda m, inputs: m.predict(inputs, batch_size=batch, verbose=0)  # noqa: E731
        predict(head, predict(base, x)), predict(model, x)  # Traces the predict functions outside the timing.

        def head_loop():
            # Not the article's recipe, what a TF user could write: the base once, S head passes.
            features = predict(base, x)
            return np.mean([predict(head, features) for _ in range(samples)], axis=0)

        runs = {
            # The article: S whole-network predictions, then their mean.
            'naive-loop': lambda: np.mean([predict(model, x) for _ in range(samples)], axis=0),
            'head-loop': head_loop,
            'forward': lambda: predict(model, x),
        }
        notes = {'naive-loop': f'{samples} × model.predict (the article)', 'head-loop': 'base once, S × head.predict',
                 'forward': 'one model.predict (TFP has no posterior-mean mode: one sample costs the same)'}
        return Prepared({'size': size, 'samples': samples, 'batch': batch}, batch, 'images/s', runs[variant],
                        note=notes[variant])
    return setup


def gradcam_vgg16(forward_only):
    """VGG16 + global average pooling + Dense softmax; the keras.io recipe at block5_conv3."""
    def setup(context):
        import tensorflow as tf
        import tf_keras as keras

        batch, size = pick(context, (8, 224), (2, 64))
        base = vgg16_base(size)
        pooled = keras.layers.GlobalAveragePooling2D()(base.output)
        model = keras.Model(base.input, keras.layers.Dense(CLASSES, activation='softmax')(pooled))
        x = images(context, batch, size)
        params = {'batch': batch, 'size': size, 'layer': 'block5_conv3'}
        if forward_only:
            return Prepared(params, batch, 'images/s', lambda: model.predict(x, batch_size=batch, verbose=0))
        model.layers[-1].activation = None  # The recipe explains the logit, as tfjs-trust does by default.
        grad_model = keras.Model(model.inputs, [model.get_layer('block5_conv3').output, model.output])
        x = tf.constant(x)

        def run():
            with tf.GradientTape() as tape:
                activations, preds = grad_model(x)
                score = tf.gather(preds, tf.argmax(preds, axis=1), axis=1, batch_dims=1)
            pooled_grads = tf.reduce_mean(tape.gradient(score, activations), axis=(1, 2), keepdims=True)
            maps = tf.nn.relu(tf.reduce_sum(activations * pooled_grads, axis=-1, keepdims=True))
            maps = maps / tf.reduce_max(maps, axis=(1, 2, 3), keepdims=True)
            return tf.image.resize(maps, (size, size)).numpy()  # Upsampled, as tfjs-trust's default.

        note = 'keras.io recipe, batched; a flat functional model (the recipe cannot reach into a nested one)'
        return Prepared(params, batch, 'images/s', run, note=note)
    return setup


def dense_layer(kind, train):
    """A Dense or DenseFlipout layer alone: forward, or one SGD step on a mean squared error."""
    def setup(context):
        import tf_keras as keras

        batch, inputs, units = pick(context, (128, 1024, 512), (16, 128, 64))
        layer = keras.layers.Dense(units) if kind == 'dense' else dense_flipout(1 / 1000, None, units)
        model = keras.Sequential([keras.Input((inputs,)), layer])
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss='mse')
        rng = np.random.default_rng(context.seed)
        x = rng.standard_normal((batch, inputs)).astype(np.float32)
        y = rng.standard_normal((batch, units)).astype(np.float32)
        run = (lambda: model.train_on_batch(x, y)) if train else (lambda: model(x, training=False).numpy())
        return Prepared({'batch': batch, 'inputs': inputs, 'units': units}, batch, 'rows/s', run)
    return setup


WORKLOADS = [
    Workload('matmul', 'a square float32 matrix product (the peak)', matmul),
    Workload('compact-train-step', 'one Adam step of the compact CNN + DenseFlipout head', compact_train_step),
    Workload('vgg16-forward', 'VGG16 convolutional base, forward pass (predict)', vgg16_forward),
    Workload('vgg16-top-train-step', 'one Adam step of block4_conv3…block5_pool + DenseFlipout head',
             vgg16_top_train_step),
    Workload('mc-predict-naive-loop', 'the article: S whole-network predictions, then their mean',
             mc_predict('naive-loop'), runs=1, warmup=0),
    Workload('mc-predict-head-loop', 'VGG16 base once, S predictions of the DenseFlipout head',
             mc_predict('head-loop')),
    Workload('mc-predict-forward', 'one prediction of the same model', mc_predict('forward')),
    Workload('gradcam-vgg16', "Grad-CAM at block5_conv3, class 'predicted', GradientTape", gradcam_vgg16(False)),
    Workload('gradcam-vgg16-forward', 'the baseline of gradcam-vgg16: one predict of the same model',
             gradcam_vgg16(True)),
    *[Workload(f'{kind}-{step}', f'{kind} layer {step}', dense_layer(kind, step == 'train-step'))
      for kind in ('dense', 'dense-flipout') for step in ('forward', 'train-step')],
]


def versions():
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras

    return {'tensorflow': tf.__version__, 'tensorflow_probability': tfp.__version__, 'tf_keras': tf_keras.__version__}
