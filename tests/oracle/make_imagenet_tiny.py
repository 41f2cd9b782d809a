#!/usr/bin/env python3
"""Writes tests/data/onnx/imagenet_tiny.onnx: a tiny 1000-class RGB classifier (conv 3->8 on
32x32, global average pooling, linear 8->1000; seeded weights, 37 KB) that stands in for an
ImageNet model in the CLI checks (top 5, ImageNet names and preset) without a 46 MB file.
    /usr/bin/python3 tests/oracle/make_imagenet_tiny.py
"""
import pathlib

import torch

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                            torch.nn.Flatten(), torch.nn.Linear(8, 1000)).eval()
with torch.no_grad():
    model[4].weight.mul_(20)  # spread the logits so the top 5 are well apart
out = pathlib.Path(__file__).resolve().parent.parent / "data/onnx/imagenet_tiny.onnx"
torch.onnx.export(model, torch.rand(1, 3, 32, 32), str(out), opset_version=17, input_names=["image"], output_names=["logits"])
print(f"{out}: {out.stat().st_size} bytes")
