"""pytorch-grad-cam's Grad-CAM, and the forward passes, on the same VGG16 shape with CPU torch.

torchvision's VGG16 (weights=None). As in the tfjs `gradcam-vgg16` workload, the classifier is
global average pooling + a 7-way linear layer, so the network matches layer for layer. Inputs
are NCHW, as torch wants. pytorch-grad-cam upsamples each map to the image size (cv2) and min-max
normalises it, and tfjs-trust's `gradCam` does the same by default.
"""

import numpy as np

from harness import Prepared, Workload
from tf_workloads import CLASSES, pick


def vgg16_classifier():
    import torch
    import torchvision

    model = torchvision.models.vgg16(weights=None)
    model.avgpool = torch.nn.AdaptiveAvgPool2d(1)
    model.classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(512, CLASSES))
    return model.eval()


def images(context, batch, size):
    import torch

    rng = np.random.default_rng(context.seed)
    return torch.from_numpy(rng.uniform(0, 255, (batch, 3, size, size)).astype(np.float32))


def forward(network):
    """One forward pass under inference_mode: the VGG16 base, or the whole classifier."""
    def setup(context):
        import torch

        batch, size = pick(context, (8, 224), (2, 64))
        model = vgg16_classifier()
        module = model.features if network == 'base' else model
        x = images(context, batch, size)

        def run():
            with torch.inference_mode():
                return module(x).numpy()

        return Prepared({'batch': batch, 'size': size}, batch, 'images/s', run)
    return setup


def grad_cam(context):
    from pytorch_grad_cam import GradCAM

    batch, size = pick(context, (8, 224), (2, 64))
    model = vgg16_classifier()
    cam = GradCAM(model=model, target_layers=[model.features[28]])  # features[28] = block5_conv3.
    x = images(context, batch, size)
    return Prepared(
        {'batch': batch, 'size': size, 'layer': 'block5_conv3'}, batch, 'images/s',
        lambda: cam(input_tensor=x, targets=None),  # None: each image's predicted class.
        note='pytorch-grad-cam GradCAM, maps upsampled to the image size',
        dispose=cam.activations_and_grads.release,
    )


WORKLOADS = [
    Workload('vgg16-forward', 'VGG16 convolutional base, forward pass', forward('base')),
    Workload('gradcam-vgg16', "Grad-CAM at block5_conv3, class 'predicted' (pytorch-grad-cam)", grad_cam),
    Workload('gradcam-vgg16-forward', 'the baseline of gradcam-vgg16: one forward pass of the same model',
             forward('classifier')),
]


def versions():
    from importlib.metadata import version

    import torch

    return {'torch': torch.__version__, 'torchvision': version('torchvision'), 'grad-cam': version('grad-cam'),
            'torch_threads': torch.get_num_threads()}
