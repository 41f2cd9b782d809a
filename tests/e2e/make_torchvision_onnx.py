#!/usr/bin/env python3
"""Exports a torchvision ImageNet classifier with seeded random weights to ONNX (opset 17) for
the browser test of large models (tests/e2e/imagenet.test.mjs). Random weights: nothing is
downloaded, and the file (ResNet-18: 46 MB) is generated, never committed.
    python3 tests/e2e/make_torchvision_onnx.py OUT.onnx [resnet18|mobilenet_v3_small]
Needs torch and torchvision (Debian's python3-torch, python3-torchvision).
"""
import os
import sys

import torch
import torchvision

out = sys.argv[1]
arch = sys.argv[2] if len(sys.argv) > 2 else "resnet18"
torch.manual_seed(0)
model = getattr(torchvision.models, arch)().eval()
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
tmp = out + ".tmp"
with torch.no_grad():
    torch.onnx.export(model, torch.rand(1, 3, 224, 224), tmp, opset_version=17, input_names=["image"],
                      output_names=["logits"])
os.replace(tmp, out)
print(f"{out}: {arch}, {os.path.getsize(out) / 1e6:.1f} MB")
