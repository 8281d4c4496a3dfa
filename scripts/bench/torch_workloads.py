"""pytorch-grad-cam's Grad-CAM (and the plain forward pass) on the same VGG16 shape, CPU torch.

torchvision's VGG16 (weights=None) with its classifier replaced by the article's head shape
(Flatten + a 7-way linear layer), so the network matches the TF one layer for layer. Inputs are
NCHW, as torch wants. pytorch-grad-cam upsamples each map to the image size (cv2) and min-max
normalises it: that is part of its time, as the default upsampling is part of tfjs-trust's.
"""

import numpy as np

from harness import Prepared, Workload
from tf_workloads import NUM_CLASSES, sizes


def vgg16_classifier():
    import torch
    import torchvision

    model = torchvision.models.vgg16(weights=None)
    model.avgpool = torch.nn.Identity()  # Keras VGG16 with include_top=False has no pooling here.
    model.classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(NUM_CLASSES))
    return model.eval()


def images(context, batch, size):
    import torch

    rng = np.random.default_rng(context.seed)
    return torch.from_numpy(rng.uniform(-2, 2, (batch, 3, size, size)).astype(np.float32))


def vgg16_forward(context):
    import torch

    batch, size = sizes(context)
    features = vgg16_classifier().features
    x = images(context, batch, size)

    def run():
        with torch.inference_mode():
            return features(x).numpy()

    return Prepared(params={'batch': batch, 'size': size}, items=batch, unit='images/s', run=run,
                    note='torchvision VGG16 features, one call under inference_mode')


def grad_cam(context):
    from pytorch_grad_cam import GradCAM

    batch, size = sizes(context)
    model = vgg16_classifier()
    x = images(context, batch, size)
    model(x)  # Materialises the lazy head's weights for this image size.
    last_conv = model.features[28]  # block5_conv3 in Keras' names.
    cam = GradCAM(model=model, target_layers=[last_conv])
    return Prepared(
        params={'batch': batch, 'size': size, 'layer': 'features.28 (block5_conv3)'},
        items=batch,
        unit='images/s',
        run=lambda: cam(input_tensor=x, targets=None),  # None: each image's predicted class.
        note='pytorch-grad-cam GradCAM, maps upsampled to the image size',
        dispose=lambda: cam.activations_and_grads.release(),
    )


WORKLOADS = [
    Workload('vgg16-forward', 'VGG16 convolutional base, one forward pass', vgg16_forward),
    Workload('grad-cam', 'Grad-CAM at block5_conv3 of VGG16 (pytorch-grad-cam)', grad_cam),
]


def versions():
    from importlib.metadata import version

    import torch

    return {'torch': torch.__version__, 'torchvision': version('torchvision'), 'grad-cam': version('grad-cam'),
            'torch_threads': torch.get_num_threads()}
