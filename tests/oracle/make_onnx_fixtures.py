"""Writes tests/data/onnx/: small seeded PyTorch models like the ones students train on FER2013,
exported to ONNX at opsets 11 and 17, with reference outputs and input gradients from PyTorch
autograd (computed in float64 from the same float32 weights).
Run from the repo root with Debian's python3 (torch, onnx): /usr/bin/python3 tests/oracle/make_onnx_fixtures.py

Files, for model M:
  M.opset11.onnx, M.opset17.onnx      the exported models (input 'input', NCHW)
  M.inputs.u8                         N images, NHWC uint8; the model input is u8 / 255 (float32)
  M.outputs.f32                       N x classes float32: the model's output (logits, or
                                      probabilities for models ending in Softmax)
  M.grads.f32                         N x H x W x C float32: d output[n, target[n]] / d input, NHWC
index.json lists every model with its shapes, targets and opsets."""
import io
import json
import math
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = 'tests/data/onnx'
OPSETS = [11, 17]
N_INPUTS = 2


def bn(c):
    """BatchNorm in eval mode with non-trivial running statistics and affine parameters."""
    b = nn.BatchNorm2d(c)
    with torch.no_grad():
        b.running_mean.uniform_(-0.3, 0.3)
        b.running_var.uniform_(0.5, 1.5)
        b.weight.uniform_(0.6, 1.4)
        b.bias.uniform_(-0.2, 0.2)
    return b


class Vgg48(nn.Module):
    """VGG-style 48x48x1: conv-BN-ReLU blocks, MaxPool, Dropout, Flatten, two Linear (Gemm)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), bn(6), nn.ReLU(),
            nn.Conv2d(6, 6, 3, padding=1, bias=False), bn(6), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Conv2d(6, 8, 3, padding=1), bn(8), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1), bn(8), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 6 * 6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 7))

    def forward(self, x):
        return self.classifier(self.features(x))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = bn(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = bn(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), bn(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class Resnet48(nn.Module):
    """ResNet-style 48x48x1: residual Adds (identity and 1x1 projection), GlobalAveragePool,
    x.view(x.size(0), -1) (Shape/Gather/Unsqueeze/Concat/Reshape with a dynamic batch)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1, bias=False), bn(8), nn.ReLU())
        self.l1 = Block(8, 8, 1)
        self.l2 = Block(8, 12, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 7)

    def forward(self, x):
        x = self.pool(self.l2(self.l1(self.stem(x))))
        return self.fc(x.view(x.size(0), -1))


class Dwsep48(nn.Module):
    """Depthwise-separable 48x48x1: ReLU6 (Clip), depthwise with dilation and with a channel
    multiplier, pointwise convs, AdaptiveAvgPool + squeeze (Squeeze), torch.flatten."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1, bias=False), bn(8), nn.ReLU6())
        self.dw1 = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 2, dilation=2, groups=8, bias=False), bn(8), nn.ReLU())
        self.pw1 = nn.Sequential(nn.Conv2d(8, 12, 1, bias=False), bn(12), nn.ReLU6())
        self.dw2 = nn.Sequential(nn.Conv2d(12, 24, 3, 2, 1, groups=12), bn(24), nn.ReLU())
        self.pw2 = nn.Sequential(nn.Conv2d(24, 16, 1), bn(16), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 7)

    def forward(self, x):
        x = self.pw2(self.dw2(self.pw1(self.dw1(self.stem(x)))))
        x = self.pool(x).squeeze(-1).squeeze(-1)
        return self.fc(torch.flatten(x, 1))


class Act48(nn.Module):
    """Activations and pooling variants on 48x48x1: LeakyReLU, PReLU (per channel and shared),
    ELU, SELU, asymmetric zero padding, AvgPool with count_include_pad, AvgPool and MaxPool with
    ceil_mode, a BatchNorm that cannot be folded (its conv output has a second consumer) and one
    after an activation, GlobalMaxPool, LogSoftmax at the end."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 3, padding=1)
        self.a1 = nn.LeakyReLU(0.1)
        self.pool1 = nn.AvgPool2d(3, 2, padding=1, count_include_pad=True)
        self.c2 = nn.Conv2d(6, 8, 3)
        self.b2 = bn(8)
        self.a2 = nn.PReLU(8)
        self.pool2 = nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)
        self.c3 = nn.Conv2d(8, 8, 3, padding=1)
        self.a3 = nn.ELU(0.8)
        self.b3 = bn(8)
        self.pool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.c4 = nn.Conv2d(8, 10, 3, padding=1)
        self.a4 = nn.PReLU()
        self.a5 = nn.SELU()
        self.gmp = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(10, 7)

    def forward(self, x):
        x = F.pad(x, (1, 2, 0, 1))                       # left, right, top, bottom
        x = self.pool1(self.a1(self.c1(x)))
        c2 = self.c2(x)
        x = self.a2(self.b2(c2)) + 0.5 * c2              # BN's conv has two consumers
        x = self.pool2(x)
        x = self.b3(self.a3(self.c3(x)))                 # BN after an activation
        x = self.pool3(x)
        x = self.a5(self.a4(self.c4(x)))
        x = torch.flatten(self.gmp(x), 1)
        return F.log_softmax(self.fc(x), dim=1)


class Rgb64(nn.Module):
    """3-channel 64x64: HardSwish, Hardsigmoid, ReLU6 (Clip), Sigmoid gate (squeeze-excite with a
    broadcast Mul), Tanh, Concat of two branches, a transposed conv (upsampling) added back, Sub
    and Div by constants, NHWC permute (Transpose) before the flatten, MatMul with a parameter,
    Softmax at the end."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), bn(8), nn.Hardswish())
        self.br_a = nn.Sequential(nn.Conv2d(8, 6, 3, 1, 1), nn.ReLU6())
        self.br_b = nn.Sequential(nn.Conv2d(8, 6, 1), nn.Tanh())
        self.se_fc = nn.Conv2d(12, 12, 1)
        self.down = nn.Sequential(nn.Conv2d(12, 12, 3, 2, 1), bn(12), nn.ReLU())
        self.up = nn.ConvTranspose2d(12, 12, 2, 2)
        self.head = nn.Sequential(nn.Conv2d(12, 8, 3, 2, 1), nn.Hardsigmoid(), nn.MaxPool2d(2))
        self.w = nn.Parameter(torch.randn(8 * 8 * 8, 7) * 0.05)
        self.b = nn.Parameter(torch.randn(7) * 0.1)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        x = self.stem(x)
        x = torch.cat([self.br_a(x), self.br_b(x)], dim=1)
        x = x * torch.sigmoid(self.se_fc(F.adaptive_avg_pool2d(x, 1)))
        x = x + self.up(self.down(x))
        x = self.head(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # NHWC flatten, as Keras users expect
        return F.softmax(torch.matmul(x, self.w) + self.b, dim=1)


class Convnext32(nn.Module):
    """ConvNeXt in miniature, from torchvision's own blocks (3-channel 32x32): LayerNorm2d
    (permute, layer_norm over channels, permute back), CNBlock (7x7 depthwise conv, NHWC Linear
    layers on a 4-D tensor, exact GELU via Erf, layer scale [C,1,1]), a LayerNorm2d + 2x2 conv
    downsample, then pool, LayerNorm2d, Flatten, Linear. Opset 17 exports LayerNormalization;
    earlier opsets decompose it into ReduceMean/Sub/Pow/Sqrt/Div."""

    def __init__(self):
        super().__init__()
        from torchvision.models.convnext import CNBlock, LayerNorm2d
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 4, 4), LayerNorm2d(8))
        self.b1 = CNBlock(8, 1.0, 0.0)
        self.down = nn.Sequential(LayerNorm2d(8), nn.Conv2d(8, 12, 2, 2))
        self.b2 = CNBlock(12, 1.0, 0.0)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), LayerNorm2d(12), nn.Flatten(1), nn.Linear(12, 7))
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.uniform_(0.6, 1.4)
                    m.bias.uniform_(-0.2, 0.2)
                if isinstance(m, CNBlock):
                    m.layer_scale.uniform_(0.5, 1.5)

    def forward(self, x):
        return self.head(self.b2(self.down(self.b1(self.stem(x)))))


class Shuffle32(nn.Module):
    """ShuffleNetV2 in miniature, from torchvision's InvertedResidual (3-channel 32x32): a
    stride-2 unit, two stride-1 units (x.chunk(2, dim=1): Split or Slice of a computed tensor),
    channel_shuffle (Reshape to rank 5, Transpose, Reshape back), x.mean([2, 3]), Linear. Then
    the ops of other user models: reflect and edge padding, nearest and bilinear Upsample."""

    def __init__(self):
        super().__init__()
        from torchvision.models.shufflenetv2 import InvertedResidual
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), bn(8), nn.ReLU())
        self.units = nn.Sequential(InvertedResidual(8, 16, 2), InvertedResidual(16, 16, 1), InvertedResidual(16, 16, 1))
        for m in self.units.modules():
            if isinstance(m, nn.BatchNorm2d):
                with torch.no_grad():
                    m.running_mean.uniform_(-0.3, 0.3)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.6, 1.4)
                    m.bias.uniform_(-0.2, 0.2)
        self.up = nn.Conv2d(16, 8, 3)
        self.fc = nn.Linear(8, 7)

    def forward(self, x):
        x = self.units(self.stem(x))                                     # 16 x 8 x 8
        x = F.pad(x, (2, 1, 1, 2), mode='reflect')
        x = F.interpolate(x, scale_factor=2, mode='nearest')
        x = F.interpolate(x, size=(13, 15), mode='bilinear', align_corners=False)
        x = F.pad(x, (1, 0, 0, 1), mode='replicate')
        x = F.interpolate(x, size=(9, 11), mode='bilinear', align_corners=True)
        x = self.up(x)
        return self.fc(x.mean([2, 3]))


class Attn32(nn.Module):
    """A CNN with a self-attention block (3-channel 32x32), as hybrid CNN-transformer classifiers
    and attention heads on CNN features have: a conv stem, its 8x8 positions as tokens
    (flatten(2).transpose(1, 2)), two-head scaled dot-product attention written out
    (q @ k^T and softmax(.) @ v: MatMul of two computed tensors, rank 4 with the heads as an
    axis), a residual, a LayerNorm, the tokens' mean and a Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1))
        self.qkv = nn.Linear(16, 48)
        self.proj = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 7)
        self.heads = 2

    def forward(self, x):
        t = self.stem(x).flatten(2).transpose(1, 2)                      # N, 64, 16
        n, l, c = t.shape
        q, k, v = self.qkv(t).reshape(n, l, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(c // self.heads), dim=-1)
        y = (a @ v).transpose(1, 2).reshape(n, l, c)
        t = self.norm(t + self.proj(y))
        return self.fc(t.mean(1))


MODELS = [
    # name, class, (C, H, W), dynamic batch, BatchNormalization kept in the ONNX, output kind
    ('vgg48', Vgg48, (1, 48, 48), False, True, 'logits'),
    ('resnet48', Resnet48, (1, 48, 48), True, False, 'logits'),
    ('dwsep48', Dwsep48, (1, 48, 48), True, True, 'logits'),
    ('act48', Act48, (1, 48, 48), False, False, 'log_probabilities'),
    ('rgb64', Rgb64, (3, 64, 64), True, False, 'probabilities'),
    ('convnext32', Convnext32, (3, 32, 32), True, False, 'logits'),
    ('shuffle32', Shuffle32, (3, 32, 32), False, False, 'logits'),
    ('attn32', Attn32, (3, 32, 32), True, False, 'logits'),
]
# Opsets per model: the newer models also at 13, where PyTorch's exports differ most
# (LayerNorm decomposed, Split with its sizes as an input).
OPSETS_OF = {'convnext32': [11, 13, 17], 'shuffle32': [11, 13, 17], 'attn32': [11, 13, 17]}


def images(seed, n, c, h, w):
    """Smooth face-like test images with noise: uint8 NHWC."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.zeros((n, h, w, c), np.uint8)
    for k in range(n):
        img = np.zeros((h, w, c))
        for ch in range(c):
            fx, fy, ph = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 6.3)
            img[:, :, ch] = 0.5 + 0.3 * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
        img += rng.normal(0, 0.12, img.shape)
        out[k] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return out


def export(model, shape, dynamic, keep_bn, opset):
    buf = io.BytesIO()
    # PRESERVE on an eval-mode model skips PyTorch's Conv+BatchNorm fusion, so the importer's
    # own folding is exercised; the default (EVAL) exports the fused convs.
    kwargs = {'training': torch.onnx.TrainingMode.PRESERVE} if keep_bn else {}
    if dynamic:
        kwargs['dynamic_axes'] = {'input': {0: 'batch'}, 'output': {0: 'batch'}}
    torch.onnx.export(model, torch.zeros((1,) + shape), buf, opset_version=opset, input_names=['input'],
                      output_names=['output'], **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    return buf.getvalue(), sorted({n.op_type for n in proto.graph.node})


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {'layout': 'NHWC', 'input_scale': 'u8 / 255', 'models': []}
    for k, (name, cls, shape, dynamic, keep_bn, kind) in enumerate(MODELS):
        torch.manual_seed(1000 + k)
        model = cls().eval()
        ops = {}
        for opset in OPSETS_OF.get(name, OPSETS):
            data, ops[opset] = export(model, shape, dynamic, keep_bn, opset)
            with open(f'{OUT}/{name}.opset{opset}.onnx', 'wb') as f:
                f.write(data)
        c, h, w = shape
        u8 = images(2000 + k, N_INPUTS, c, h, w)
        u8.tofile(f'{OUT}/{name}.inputs.u8')
        # The engine feeds float32(u8 / 255); the reference runs those exact values in float64.
        x32 = (u8.astype(np.float32) / np.float32(255)).transpose(0, 3, 1, 2)
        x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
        m64 = cls().eval()
        m64.load_state_dict(model.state_dict())
        m64 = m64.double()
        y = m64(x)
        targets = [(3 + 2 * n) % y.shape[1] for n in range(N_INPUTS)]
        sel = sum(y[n, t] for n, t in enumerate(targets))
        (g,) = torch.autograd.grad(sel, x)
        y.detach().numpy().astype(np.float32).tofile(f'{OUT}/{name}.outputs.f32')
        g.numpy().transpose(0, 2, 3, 1).astype(np.float32).tofile(f'{OUT}/{name}.grads.f32')
        # Sanity: the float32 model agrees with the float64 reference.
        y32 = model(torch.from_numpy(x32)).detach().numpy()
        assert np.abs(y32 - y.detach().numpy()).max() < 1e-4 * max(1.0, np.abs(y32).max())
        index['models'].append({'name': name, 'input': [h, w, c], 'classes': int(y.shape[1]), 'inputs': N_INPUTS,
                                'targets': targets, 'output': kind, 'dynamic_batch': dynamic, 'opsets': OPSETS_OF.get(name, OPSETS),
                                'onnx_ops': {str(o): v for o, v in ops.items()}})
        print(name, {o: len(v) for o, v in ops.items()}, 'ops; max |output|', float(np.abs(y32).max()))
    with open(f'{OUT}/index.json', 'w') as f:
        json.dump(index, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
