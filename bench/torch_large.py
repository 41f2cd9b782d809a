#!/usr/bin/env python3
"""PyTorch's side of the 224x224 comparison (bench/large.mjs): exports torchvision classifiers
with seeded random weights to ONNX (opset 17, input "image" [N,3,224,224]) once, and times
PyTorch 1.13 on them: the frozen TorchScript forward (torch.jit.freeze of the traced model, the
fastest inference path PyTorch has here) per image at each batch and thread count, and the eager
input gradient (d logit[3] / d image) at batch 1. Medians after warm-up, ms per image; one JSON
object on stdout.
    /usr/bin/python3 bench/torch_large.py --dir build/bench-large --models resnet18,mobilenet_v2
        --threads 1,2 --batches 1,8 --runs 10
Any torchvision classifier name works in --models (resnet50 for the memory target of
`cnnlens bench --memory`: --models resnet50 --export-only).
Needs Debian's python3-torch and python3-torchvision.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--dir", default="build/bench-large")
p.add_argument("--models", default="resnet18,mobilenet_v2,efficientnet_b0")
p.add_argument("--threads", default="1,2")
p.add_argument("--batches", default="1,8")
p.add_argument("--runs", type=int, default=10)
p.add_argument("--export-only", action="store_true")
a = p.parse_args()
os.makedirs(a.dir, exist_ok=True)


def median_ms(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)


out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
for name in a.models.split(","):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    path = os.path.join(a.dir, f"{name}.onnx")
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, torch.rand(1, 3, 224, 224), tmp, opset_version=17,
                              input_names=["image"], output_names=["logits"],
                              dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}})
        os.replace(tmp, path)
        print(f"exported {path}", file=sys.stderr)
    if a.export_only:
        continue
    r = {"onnx": path, "forward": {}, "gradient": {}}
    g = torch.Generator().manual_seed(42)
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        for batch in [int(b) for b in a.batches.split(",")]:
            x = torch.rand(batch, 3, 224, 224, generator=g)
            with torch.no_grad():
                frozen = torch.jit.freeze(torch.jit.trace(model, x))
                ms = median_ms(lambda: frozen(x), a.runs)
            r["forward"][f"{threads}t_b{batch}"] = ms / batch
            print(f"{name} torch frozen forward {threads}t b{batch}: {ms / batch:.2f} ms/image",
                  file=sys.stderr)
        x = torch.rand(1, 3, 224, 224, generator=g)

        def gradient():
            xi = x.clone().requires_grad_(True)
            model(xi)[0, 3].backward()
            return xi.grad

        ms = median_ms(gradient, a.runs)
        r["gradient"][f"{threads}t_b1"] = ms
        print(f"{name} torch eager input gradient {threads}t: {ms:.2f} ms", file=sys.stderr)
    out["models"][name] = r
print(json.dumps(out))
