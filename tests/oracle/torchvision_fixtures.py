"""Writes torchvision classifiers with seeded random weights as ONNX, with PyTorch's answers for
tests/import/torchvision_test.cpp: probabilities, and the input gradient of the top logit in
float64 (the truth) and in float32 (how well conditioned the model is: PyTorch's own float32
error bounds what any float32 engine can reach).

Run from the repository root with Debian's python3 (torch 1.13, torchvision 0.14, onnx):
  /usr/bin/python3 tests/oracle/torchvision_fixtures.py --out build/torchvision --plan ci
  /usr/bin/python3 tests/oracle/torchvision_fixtures.py --out DIR --models resnet50,vgg11_bn \
      --opsets 11,13,17 [--size 224]

Plans: "full" is every architecture at its own input size (224, inception_v3 299) and every
requested opset; "ci" is every architecture small (64..112 px where the architecture allows,
narrow variants where torchvision has them, fully connected heads narrowed), one opset each,
all three opsets covered across the set. --models picks from the plan's list.

Files in DIR, for fixture F (an architecture, possibly a variant, at one size):
  F.opsetK.onnx         the model (input 'input', NCHW, dynamic batch; output 'logits')
  F.input.npy           [1, 3, S, S] float32: scikit-image's astronaut resized to S x S,
                        normalised with ImageNet's mean and std
  F.probs.npy           [1, 1000] float64: softmax of the float64 logits
  F.probs32.npy         [1, 1000] float32: PyTorch's float32 probabilities
  F.grad.npy            [1, 3, S, S] float64: d logits[class] / d input, float64 autograd
  F.grad32.npy          [1, 3, S, S] float32: the same in float32
index.json: {"fixtures": [{name, arch, variant, size, opsets, class, files..., torch_f32_grad_err
(max |grad32 - grad| / max |grad|), torch_f32_prob_err (max |probs32 - probs|), logit_range,
export errors per opset}]}. An architecture that fails to export is listed with its error, so the
test reports it instead of forgetting it."""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
from skimage import data as skdata
from skimage import transform as sktransform

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])

ARCHS = ['alexnet', 'convnext_tiny', 'densenet121', 'efficientnet_b0', 'efficientnet_v2_s', 'googlenet',
         'inception_v3', 'mnasnet1_0', 'mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large',
         'regnet_x_400mf', 'regnet_y_400mf', 'resnet18', 'resnet50', 'resnext50_32x4d', 'wide_resnet50_2',
         'shufflenet_v2_x1_0', 'squeezenet1_0', 'squeezenet1_1', 'vgg11_bn']

# Constructor arguments every plan needs: no auxiliary heads, no input transform (torchvision
# turns it on only with pretrained weights), torchvision's own weight init.
BASE_KWARGS = {
    'googlenet': {'aux_logits': False, 'transform_input': False, 'init_weights': True},
    'inception_v3': {'aux_logits': False, 'transform_input': False, 'init_weights': True},
}
FULL_SIZE = {'inception_v3': 299}


def head_1x1(model, hidden):
    """VGG/AlexNet at small sizes: the adaptive pool to 7x7 (6x6) cannot be exported from a 1x1 or
    2x2 feature map, and the 25088x4096 layer is 400 MB; a global pool and a narrow head keep every
    op kind (Conv, BatchNormalization, Relu, MaxPool, Gemm, Dropout) at a CI-sized cost."""
    feat = [m for m in model.features if isinstance(m, nn.Conv2d)][-1].out_channels
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = nn.Sequential(nn.Dropout(), nn.Linear(feat, hidden), nn.ReLU(inplace=True), nn.Dropout(),
                                     nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1000))
    return model


# The CI plan: (fixture name, architecture, extra constructor kwargs, post-construction edit and
# its description, size, opset). Opsets rotate so 11, 13 and 17 are each covered several times.
CI_PLAN = [
    ('alexnet_s64', 'alexnet', {}, (lambda m: head_1x1(m, 256), 'global pool, 256-wide head'), 64, 11),
    ('convnext_tiny_s64', 'convnext_tiny', {}, None, 64, 13),
    ('densenet121_s64', 'densenet121', {}, None, 64, 17),
    ('efficientnet_b0_s64', 'efficientnet_b0', {}, None, 64, 11),
    ('efficientnet_v2_s_s64', 'efficientnet_v2_s', {}, None, 64, 13),
    ('googlenet_s64', 'googlenet', {}, None, 64, 17),
    ('inception_v3_s96', 'inception_v3', {}, None, 96, 11),
    ('mnasnet0_5_s64', 'mnasnet0_5', {}, None, 64, 13),
    ('mobilenet_v2_w050_s64', 'mobilenet_v2', {'width_mult': 0.5}, None, 64, 17),
    ('mobilenet_v3_small_s64', 'mobilenet_v3_small', {}, None, 64, 11),
    ('mobilenet_v3_large_s64', 'mobilenet_v3_large', {}, None, 64, 13),
    ('regnet_x_400mf_s64', 'regnet_x_400mf', {}, None, 64, 17),
    ('regnet_y_400mf_s64', 'regnet_y_400mf', {}, None, 64, 11),
    ('resnet18_s64', 'resnet18', {}, None, 64, 13),
    ('resnet50_s64', 'resnet50', {}, None, 64, 17),
    ('resnext50_32x4d_s64', 'resnext50_32x4d', {}, None, 64, 11),
    ('wide_resnet50_2_s64', 'wide_resnet50_2', {}, None, 64, 13),
    ('shufflenet_v2_x0_5_s64', 'shufflenet_v2_x0_5', {}, None, 64, 17),
    ('squeezenet1_0_s64', 'squeezenet1_0', {}, None, 64, 11),
    ('squeezenet1_1_s64', 'squeezenet1_1', {}, None, 64, 13),
    ('vgg11_bn_s64', 'vgg11_bn', {}, (lambda m: head_1x1(m, 256), 'global pool, 256-wide head'), 64, 17),
    # The transformers in miniature, from torchvision's own classes: ViT (class token, attention
    # with the batch folded into the heads, exact GELU) and Swin (shifted windows: roll, window
    # partition at rank 6, attention masks built from constants, relative position bias).
    ('vit_tiny_s32', 'VisionTransformer', {'image_size': 32, 'patch_size': 8, 'num_layers': 2, 'num_heads': 2,
                                           'hidden_dim': 32, 'mlp_dim': 64}, None, 32, 13),
    ('swin_tiny_s32', 'SwinTransformer', {'patch_size': [4, 4], 'embed_dim': 16, 'depths': [2, 2], 'num_heads': [2, 2],
                                          'window_size': [4, 4], 'stochastic_depth_prob': 0.0}, None, 32, 17),
]


def nontrivial_batchnorm(model, gen):
    """Eval-mode BatchNorm with random statistics and affine parameters: torchvision's init leaves
    mean 0, var 1, weight 1, bias 0, which would hide a folding that drops any of them."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.empty(c).uniform_(-0.3, 0.3, generator=gen))
                m.running_var.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=gen))
                if m.affine:
                    m.weight.copy_(torch.empty(c).uniform_(0.6, 1.4, generator=gen))
                    m.bias.copy_(torch.empty(c).uniform_(-0.2, 0.2, generator=gen))


def calibrated_batchnorm(model, x, gen):
    """BatchNorm statistics measured on the photo (a batch of it, flipped and with noise), then
    random affine parameters, as training leaves a network: every BatchNorm output is near unit
    scale, so activations neither blow up nor vanish with depth. torchvision's random init alone
    leaves the large nets so ill-conditioned at 224 px (activations up to 1e13) that PyTorch's
    own float32 gradient is 14-54 % off its float64 one, and a gradient check there has no
    teeth."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    noise = torch.empty(x.shape).normal_(0.0, 0.25, generator=gen)
    batch = torch.cat([x, x.flip(3), x + noise, (x + noise).flip(2)])
    model.eval()  # dropout and stochastic depth stay off: only BatchNorm measures the batch
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration pass
        m.train()
    with torch.no_grad():
        model(batch)
    model.eval()
    for m in bns:
        m.momentum = 0.1
        if m.affine:
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.empty(c).uniform_(0.6, 1.4, generator=gen))
                m.bias.copy_(torch.empty(c).uniform_(-0.2, 0.2, generator=gen))


def build(arch, kwargs, edit, seed, bn='random', x=None):
    torch.manual_seed(seed)
    if arch[0].isupper():  # a model class at a size of our own (the transformers in CI)
        model = getattr(torchvision.models, arch)(**kwargs)
    else:
        model = getattr(torchvision.models, arch)(weights=None, **{**BASE_KWARGS.get(arch, {}), **kwargs})
    if edit is not None:
        model = edit[0](model)
    gen = torch.Generator().manual_seed(seed + 1)
    # ViT starts its classifier at zero (every logit 0, no gradient): give it small random weights.
    for m in model.modules():
        if isinstance(m, nn.Linear) and not m.weight.detach().any():
            with torch.no_grad():
                m.weight.normal_(0, 0.02, generator=gen)
    if bn == 'calibrated':
        calibrated_batchnorm(model, x, gen)
    else:
        nontrivial_batchnorm(model, gen)
    return model.eval()


def astronaut(size, dither):
    img = skdata.astronaut().astype(np.float64) / 255.0  # 512 x 512 x 3
    img = sktransform.resize(img, (size, size), order=1, anti_aliasing=True)
    if dither:
        # Sensor-like noise of one grey level: the photo's flat regions (its black border, the
        # saturated suit) otherwise give windows that are equal in exact arithmetic, whose max
        # pool and ReLU decisions every float32 engine takes by rounding noise. The gradient
        # there is a subgradient of no single value, and no check could tell right from wrong.
        img = img + np.random.default_rng(size).uniform(-1.0, 1.0, img.shape) / 255.0
    img = (img - MEAN) / STD
    return img.transpose(2, 0, 1)[None].astype(np.float32)  # NCHW


def top_logit_grad(model, x, cls):
    x = x.clone().requires_grad_(True)
    logits = model(x)
    logits[0, cls].backward()
    return logits.detach(), x.grad.detach()


def export(model, x, path, opset):
    torch.onnx.export(model, x, path, opset_version=opset, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, do_constant_folding=True)


def make(out, name, arch, kwargs, edit, size, opsets, seed, bn, dither):
    t0 = time.time()
    entry = {'name': name, 'arch': arch, 'kwargs': kwargs, 'variant': edit[1] if edit else '', 'size': size,
             'seed': seed, 'batchnorm': bn, 'dither': dither}
    x32 = torch.from_numpy(astronaut(size, dither))
    model = build(arch, kwargs, edit, seed, bn, x32)
    with torch.no_grad():
        logits32 = model(x32)
    cls = int(logits32[0].argmax())
    _, grad32 = top_logit_grad(model, x32, cls)
    model64 = copy.deepcopy(model).double()  # the same weights, widened
    logits64, grad64 = top_logit_grad(model64, x32.double(), cls)
    probs32 = torch.softmax(logits32, 1).numpy()
    probs64 = torch.softmax(logits64, 1).numpy()
    g64, g32 = grad64.numpy(), grad32.numpy()
    scale = float(np.abs(g64).max())
    entry.update({
        'class': cls,
        'class64': int(logits64[0].argmax()),
        'logit_range': [float(logits64.min()), float(logits64.max())],
        'grad_max_abs': scale,
        'torch_f32_grad_err': float(np.abs(g32 - g64).max() / scale) if scale > 0 else float('inf'),
        'torch_f32_prob_err': float(np.abs(probs32 - probs64).max()),
        'input': name + '.input.npy', 'probs': name + '.probs.npy', 'probs32': name + '.probs32.npy',
        'grad': name + '.grad.npy', 'grad32': name + '.grad32.npy',
        'opsets': {},
    })
    np.save(os.path.join(out, entry['input']), x32.numpy())
    np.save(os.path.join(out, entry['probs']), probs64)
    np.save(os.path.join(out, entry['probs32']), probs32)
    np.save(os.path.join(out, entry['grad']), g64)
    np.save(os.path.join(out, entry['grad32']), g32)
    for opset in opsets:
        path = '%s.opset%d.onnx' % (name, opset)
        try:
            export(model, x32, os.path.join(out, path), opset)
            entry['opsets'][str(opset)] = {'file': path}
        except Exception as e:  # an export PyTorch refuses is a result to report, not a crash
            entry['opsets'][str(opset)] = {'error': '%s: %s' % (type(e).__name__, str(e).splitlines()[0][:300])}
    print('%-26s %3d px class %4d  torch f32 grad err %.2e  prob err %.2e  logits [%.3g, %.3g]  %.1f s' %
          (name, size, cls, entry['torch_f32_grad_err'], entry['torch_f32_prob_err'], *entry['logit_range'],
           time.time() - t0), flush=True)
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True, help='output folder (created)')
    ap.add_argument('--plan', choices=['full', 'ci'], default='full')
    ap.add_argument('--models', default='all', help='comma-separated architectures (or CI fixture names), or all')
    ap.add_argument('--opsets', default='11,13,17', help='full plan: comma-separated opsets')
    ap.add_argument('--size', type=int, default=0, help='full plan: input size for every model (default: '
                                                         '224, inception_v3 299)')
    ap.add_argument('--seed', type=int, default=13)
    ap.add_argument('--batchnorm', choices=['calibrated', 'random'], default=None,
                    help='BatchNorm statistics measured on the input (a trained net\'s conditioning; default '
                         'of the full plan) or drawn at random (uniform mean -0.3..0.3, var 0.5..1.5; default of '
                         'the ci plan, whose 1x1..2x2 late feature maps give degenerate measured variances)')
    ap.add_argument('--dither', type=int, choices=[0, 1], default=None,
                    help='add one grey level of uniform noise to the photo (see astronaut(); default: 1 for '
                         'the full plan, 0 for the ci plan)')
    a = ap.parse_args()
    if a.batchnorm is None:
        a.batchnorm = 'calibrated' if a.plan == 'full' else 'random'
    if a.dither is None:
        a.dither = 1 if a.plan == 'full' else 0
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    wanted = None if a.models == 'all' else set(a.models.split(','))
    if a.plan == 'ci':
        plan = [(n, arch, kw, ed, s, [op]) for n, arch, kw, ed, s, op in CI_PLAN]
    else:
        opsets = [int(o) for o in a.opsets.split(',')]
        # Any torchvision classifier can be asked for by name, beyond the list the check walks.
        extra = sorted(wanted - set(ARCHS)) if wanted else []
        plan = [(arch, arch, {}, None, a.size or FULL_SIZE.get(arch, 224), opsets) for arch in ARCHS + extra
                if arch in ARCHS or callable(getattr(torchvision.models, arch, None))]
    plan = [p for p in plan if wanted is None or p[0] in wanted or p[1] in wanted]
    if not plan:
        sys.exit('torchvision_fixtures.py: no architecture of the %s plan matches --models %s' % (a.plan, a.models))
    entries = [make(a.out, *p, a.seed, a.batchnorm, a.dither) for p in plan]
    with open(os.path.join(a.out, 'index.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'torchvision': torchvision.__version__, 'plan': a.plan,
                   'fixtures': entries}, f, indent=1)


if __name__ == '__main__':
    main()
