"""Writes full torchvision classifiers exported to ONNX with PyTorch's float64 reference
outputs, for the opt-in test OnnxTorchvision.* (tests/import/onnx_test.cpp):
  /usr/bin/python3 tests/oracle/torchvision_models.py OUT_DIR [name:size:opset ...]
  CNNLENS_TORCHVISION_DIR=OUT_DIR build/native-release/tests/cnnlens_tests --gtest_filter='OnnxTorchvision.*'
Weights are seeded (weights=None), BatchNorm gets non-trivial running statistics, LayerNorm
affine parameters and ConvNeXt's layer scales non-trivial values. Files per case C:
  C.onnx; C.input.f32 (1 x H x W x 3, NHWC); C.probs.f32 (softmax of the float64 logits);
  C.grad.f32 (d logit[top] / d input in float64, NHWC); index.json lists the cases.
The files are large (convnext_tiny: 110 MB) and are not committed."""
import json
import os
import sys

import numpy as np
import torch
import torchvision

DEFAULT = ['convnext_tiny:224:13', 'convnext_tiny:224:17', 'convnext_tiny:96:11', 'shufflenet_v2_x1_0:224:11',
           'shufflenet_v2_x1_0:224:13', 'shufflenet_v2_x1_0:224:17', 'shufflenet_v2_x1_0:96:17']


def make(name):
    torch.manual_seed(7)
    m = getattr(torchvision.models, name)(weights=None).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.6, 1.4)
                mod.bias.uniform_(-0.2, 0.2)
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.6, 1.4)
                mod.bias.uniform_(-0.2, 0.2)
            if hasattr(mod, 'layer_scale'):
                mod.layer_scale.uniform_(0.1, 0.3)
    return m


def main():
    out = sys.argv[1]
    cases = sys.argv[2:] or DEFAULT
    os.makedirs(out, exist_ok=True)
    index = []
    for case in cases:
        name, size, opset = case.split(':')
        size, opset = int(size), int(opset)
        tag = f'{name}.{size}.opset{opset}'
        model = make(name)
        torch.onnx.export(model, torch.zeros(1, 3, size, size), f'{out}/{tag}.onnx', opset_version=opset,
                          input_names=['input'], output_names=['output'])
        rng = np.random.default_rng(size)
        yy, xx = np.mgrid[0:size, 0:size] / size
        img = np.stack([0.5 + 0.3 * np.sin(2 * np.pi * (f * xx + (c + 1) * yy)) for c, f in enumerate((1.5, 2.5, 3.5))], 0)
        x32 = np.clip(img + rng.normal(0, 0.1, img.shape), 0, 1).astype(np.float32)[None]
        m64 = make(name).double()
        x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
        y = m64(x)
        top = int(y[0].argmax())
        (g,) = torch.autograd.grad(y[0, top], x)
        x32.transpose(0, 2, 3, 1).tofile(f'{out}/{tag}.input.f32')
        torch.softmax(y, 1).detach().numpy().astype(np.float32).tofile(f'{out}/{tag}.probs.f32')
        g.numpy().transpose(0, 2, 3, 1).astype(np.float32).tofile(f'{out}/{tag}.grad.f32')
        index.append({'name': tag, 'size': size, 'classes': int(y.shape[1]), 'top': top})
        print(tag, 'top', top, 'max |logit|', float(y.abs().max()), flush=True)
    with open(f'{out}/index.json', 'w') as f:
        json.dump(index, f, indent=1)


if __name__ == '__main__':
    main()
