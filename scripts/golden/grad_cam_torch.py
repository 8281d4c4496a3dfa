"""Golden fixtures from pytorch-grad-cam: the explanations of issue 19 on small torch models.

    /root/.cache/tfjs-trust/venv-torch/bin/python scripts/golden/grad_cam_torch.py

Needs requirements-torch.txt (torch, torchvision, grad-cam; not TensorFlow), so it is not part of
make_fixtures.py, which runs in the TF stack. Writes test/fixtures/pytorch_grad_cam.json.

Each model is a torch.nn.Sequential and a layer list that test/parity/pytorch_grad_cam.test.ts
rebuilds with tfjs-layers (NCHW → NHWC: conv kernels [out, in, kh, kw] → [kh, kw, in, out],
linear [out, in] → [in, out]). Images and maps are written channels-last.

Maps are taken at the target layer's resolution: `get_target_width_height` is pointed at the
layer's size, so pytorch-grad-cam's cv2.resize is the identity and no interpolation enters the
comparison. FullGrad and guided backpropagation work at the image's resolution; FullGrad's bias
terms of the pooled layer are upsampled by cv2.resize (bilinear, half-pixel centres), tfjs-trust's
by tf.image.resizeBilinear with half-pixel centres: the same interpolation.

SVD signs: pytorch-grad-cam's `get_2d_projection` keeps LAPACK's arbitrary sign. tfjs-trust turns
each projection so that its largest magnitude is positive, which is pytorch-grad-cam's own
`get_2d_projection_with_sign_correction` (Seg-Eigen-CAM, eq. 13); the fixture is made with that
function in place of `get_2d_projection` (EigenCAM, EigenGradCAM and eigen_smooth).
"""

import platform
import sys

sys.dont_write_bytecode = True  # No __pycache__ in the repository.

import numpy as np  # noqa: E402
import torch  # noqa: E402
import ttach as tta  # noqa: E402
import pytorch_grad_cam  # noqa: E402
from pytorch_grad_cam import (  # noqa: E402
    AblationCAM, EigenCAM, EigenGradCAM, FullGrad, GradCAM, GuidedBackpropReLUModel, LayerCAM)
from pytorch_grad_cam.metrics.perturbation_confidence import (  # noqa: E402
    PerturbationConfidenceMetric, RemoveLeastRelevantFirst, RemoveMostRelevantFirst)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction  # noqa: E402

from fixture_io import to_json, write_fixture  # noqa: E402

# Every pytorch-grad-cam module that imported get_2d_projection (base_cam, eigen_cam, layer_cam, ...).
for module in list(sys.modules.values()):
    if module.__name__.startswith('pytorch_grad_cam.') and hasattr(module, 'get_2d_projection'):
        module.get_2d_projection = get_2d_projection_with_sign_correction


class Tokens(torch.nn.Module):
    """[batch, channels, h, w] → [batch, h·w, channels], row by row (tfjs: reshape after an NHWC conv)."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class TokenMean(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=1)


def cnn(rng):
    """conv → batch norm → ReLU → max pool → conv → ReLU → global average pool → linear."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4, eps=1e-3), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3))
    bn = model[1]
    bn.running_mean.copy_(torch.tensor(rng.normal(0, 0.1, 4), dtype=torch.float32))
    bn.running_var.copy_(torch.tensor(rng.uniform(0.5, 1.5, 4), dtype=torch.float32))
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, 4), dtype=torch.float32))
        bn.bias.copy_(torch.tensor(rng.uniform(0.0, 0.2, 4), dtype=torch.float32))
    layers = [
        ('conv1', 'conv2d', {'filters': 4, 'kernelSize': 3, 'padding': 'same'}, model[0]),
        ('bn1', 'batchNormalization', {'epsilon': 1e-3}, bn),
        ('relu1', 'activation', {'activation': 'relu'}, None),
        ('pool1', 'maxPooling2d', {'poolSize': 2}, None),
        ('conv2', 'conv2d', {'filters': 6, 'kernelSize': 3, 'padding': 'same', 'activation': 'relu'}, model[4]),
        ('pool2', 'globalAveragePooling2d', {}, None),
        ('logits', 'dense', {'units': 3}, model[8]),
    ]
    # tfjs layer name → the torch module whose output is that layer's output.
    targets = {'conv2': model[5], 'relu1': model[2]}
    return model, layers, targets, [12, 12, 3]


def tokens(rng):
    """A ViT-like model: 2×2 patches → 16 tokens of 8 channels → a token-wise linear + ReLU → mean → linear."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 2, stride=2), Tokens(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
        TokenMean(), torch.nn.Linear(8, 3))
    layers = [
        ('patches', 'conv2d', {'filters': 8, 'kernelSize': 2, 'strides': 2}, model[0]),
        ('tokens', 'reshape', {'targetShape': [16, 8]}, None),
        ('mix', 'dense', {'units': 8, 'activation': 'relu'}, model[2]),
        ('pool', 'globalAveragePooling1d', {}, None),
        ('logits', 'dense', {'units': 3}, model[5]),
    ]
    return model, layers, {'mix': model[3]}, [8, 8, 3]


def randomize(model, rng):
    """He-like kernels keep the ReLUs alive; small positive biases avoid all-dead maps."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = np.prod(module.weight.shape[1:])
                module.weight.copy_(torch.tensor(rng.standard_normal(module.weight.shape) * np.sqrt(2.0 / fan_in)))
                module.bias.copy_(torch.tensor(rng.uniform(0.0, 0.1, module.bias.shape)))


def tfjs_weights(module):
    """A torch module's parameters in tfjs-layers order and layout."""
    if isinstance(module, torch.nn.Conv2d):
        return [module.weight.detach().permute(2, 3, 1, 0), module.bias.detach()]
    if isinstance(module, torch.nn.Linear):
        return [module.weight.detach().t(), module.bias.detach()]
    return [module.weight.detach(), module.bias.detach(), module.running_mean, module.running_var]


def at_layer_resolution(cam, size):
    """Makes pytorch-grad-cam resize its maps to `size` (the layer's): cv2.resize is then the identity."""
    cam.get_target_width_height = lambda input_tensor: (size[1], size[0])
    return cam


def layer_size(model, module, x):
    shape = []
    handle = module.register_forward_hook(lambda m, i, o: shape.append(o.shape))
    with torch.no_grad():
        model(x)
    handle.remove()
    return shape[0][2:] if len(shape[0]) == 4 else None


def cam_maps(model, module, x, targets, method, size, reshape=None, **call):
    """One method's maps [batch, h, w] at the layer's resolution."""
    kwargs = {'reshape_transform': reshape} if reshape else {}
    with at_layer_resolution(method(model, [module], **kwargs), size) as cam:
        # The 8 symmetries of a square, as tfjs-trust's augSmooth (pytorch-grad-cam's default is flips × brightness).
        cam.tta_transforms = tta.Compose([tta.HorizontalFlip(), tta.Rotate90(angles=[0, 90, 180, 270])])
        return cam(x, targets, **call)


def case(name, build, rng, classes, methods, reshape=None, grid=None):
    model, layers, modules, input_shape = build(rng)
    randomize(model, rng)
    model.eval()
    images = rng.uniform(0.0, 1.0, [len(classes)] + input_shape).astype(np.float32)
    x = torch.tensor(images).permute(0, 3, 1, 2).contiguous()
    targets = [ClassifierOutputTarget(c) for c in classes]
    with torch.no_grad():
        logits = model(x).numpy()
    maps = []
    for layer_name, module in modules.items():
        size = grid or layer_size(model, module, x)
        for label, method, call in methods:
            values = cam_maps(model, module, x, targets, method, size, reshape, **call)
            maps.append({'layerName': layer_name, 'method': label, 'maps': to_json(values)})
    return model, {
        'name': name,
        'inputShape': input_shape,
        'layers': [{'name': n, 'kind': k, 'options': o} for n, k, o, _ in layers],
        'weights': {n: [to_json(w) for w in tfjs_weights(m)] for n, _, _, m in layers if m is not None},
        'images': to_json(images),
        'classes': classes,
        'logits': to_json(logits),
        'maps': maps,
    }, x, targets


def full_grad(model, x, targets):
    with FullGrad(model, []) as cam:
        return cam(x, targets)


def guided(model, x, classes):
    """pytorch-grad-cam's GuidedBackpropReLUModel explains the first image of a batch: one call per image."""
    gb = GuidedBackpropReLUModel(model, device='cpu')
    return np.stack([gb(x[i:i + 1].clone(), target_category=c) for i, c in enumerate(classes)])


def road(model, x, targets, rng, percentiles):
    """ROAD's imputed images and score changes, noise off (the noise is random), for a fixed random map."""
    maps = rng.uniform(0.0, 1.0, [x.shape[0], x.shape[2], x.shape[3]]).astype(np.float32)
    result = {'maps': to_json(maps), 'percentiles': percentiles, 'mostRelevantFirst': [], 'leastRelevantFirst': []}
    for key, removal in (('mostRelevantFirst', RemoveMostRelevantFirst), ('leastRelevantFirst', RemoveLeastRelevantFirst)):
        for percentile in percentiles:
            metric = PerturbationConfidenceMetric(removal(percentile, NoisyLinearImputer(noise=0)))
            change, imputed = metric(x, maps, targets, model, return_visualization=True)
            result[key].append({'change': to_json(change), 'imputed': to_json(imputed.permute(0, 2, 3, 1))})
    return result


CAM_METHODS = [
    ('gradcam', GradCAM, {}),
    ('eigencam', EigenCAM, {}),
    ('eigengradcam', EigenGradCAM, {}),
    ('ablationcam', AblationCAM, {}),
    ('gradcam+eigenSmooth', GradCAM, {'eigen_smooth': True}),
    ('layercam+eigenSmooth', LayerCAM, {'eigen_smooth': True}),
    ('gradcam+augSmooth', GradCAM, {'aug_smooth': True}),
]


def write(seed=19):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, cnn_case, x, targets = case('cnn', cnn, rng, [0, 2], CAM_METHODS)
    cnn_case['fullGrad'] = to_json(full_grad(model, x, targets))
    cnn_case['guidedBackprop'] = to_json(guided(model, x, cnn_case['classes']))
    cnn_case['road'] = road(model, x, targets, rng, [20, 50, 80])
    # Token maps: the token grid laid out as pytorch-grad-cam's vit_reshape_transform does (no class token here).
    reshape = lambda t: t.reshape(t.shape[0], 4, 4, t.shape[2]).permute(0, 3, 1, 2)  # noqa: E731
    _, token_case, _, _ = case('tokens', tokens, rng, [1, 0], CAM_METHODS[:3], reshape=reshape, grid=(4, 4))
    write_fixture(
        'pytorch_grad_cam.json',
        'grad_cam_torch.py',
        'pytorch-grad-cam maps at the target layer resolution (methods of issue 19: Eigen-CAM, Eigen-Grad-CAM, '
        'Ablation-CAM, eigen_smooth, aug_smooth over the 8 symmetries of a square, a token model through '
        'reshape_transform), FullGrad and guided backpropagation at the image resolution, and ROAD imputations '
        '(noise 0) on small torch models; images, maps and gradients channels-last. SVD projections with '
        "pytorch-grad-cam's sign correction.",
        [cnn_case, token_case],
        stack={
            'python': platform.python_version(),
            'torch': torch.__version__,
            'grad-cam': getattr(pytorch_grad_cam, '__version__', '1.5.7'),
            'numpy': np.__version__,
        },
    )


if __name__ == '__main__':
    write()
